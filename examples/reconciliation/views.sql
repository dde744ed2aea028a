-- Shared views: active subscriptions (Stripe and Orb), integrator.io licenses, Stripe's active entitlements
-- and Orb licenses, each with a normalised e-mail.
--
-- DuckDB dialect, over the tables of a sync (one table per stream, deduplicated on the primary key, as
-- PyAirbyte's DuckDB cache or an "Incremental | Append + Deduped" destination holds them). Times in the
-- tables are UTC; `as_of` is now, in UTC, as the tables' naive timestamps are.
-- The e-mail is the only key the three APIs share: compared trimmed and lower-cased.
-- Needs the streams customers, subscriptions, active_entitlements, orb_customers, orb_subscriptions,
-- orb_licenses, orb_license_types, integrator_io_connectors and integrator_io_licenses. If you bill through
-- one of Stripe and Orb only, delete the other's half of the `union all` in active_subscriptions, and the
-- view (and questions) of the other's licensing data.

create or replace temp view as_of as
select now() at time zone 'UTC' as now_utc;

-- Stripe counts a subscription as running while it is active, trialing or past due (still retried);
-- unpaid, paused, incomplete, incomplete_expired and canceled ones are not. Orb: status `active` only
-- (`upcoming` has not started, `ended` is over).
create or replace temp view active_subscriptions as
select
    'stripe' as billing,
    s.id as subscription_id,
    s.customer as customer_id,
    lower(trim(c.email)) as email,
    s.status
from subscriptions s
join customers c on c.id = s.customer
where s.status in ('active', 'trialing', 'past_due')
    and not coalesce(s.is_deleted, false)
    and not coalesce(c.is_deleted, false)
union all
select
    'orb' as billing,
    s.id as subscription_id,
    json_extract_string(s.customer, '$.id') as customer_id,
    lower(trim(coalesce(c.email, json_extract_string(s.customer, '$.email')))) as email,
    s.status
from orb_subscriptions s
left join orb_customers c on c.id = json_extract_string(s.customer, '$.id')
where s.status = 'active';

-- A license is active until `expires` (none: it does not expire); it is installed once it has an
-- `_integrationId`; it is in trial while `trialEndDate` is ahead.
create or replace temp view licenses as
select
    l._id as license_id,
    l._connectorid as connector_id,
    k.name as connector_name,
    lower(trim(json_extract_string(l."user", '$.email'))) as email,
    l.expires,
    l.expires is null or l.expires > a.now_utc as is_active,
    l._integrationid is not null as is_installed,
    coalesce(l.trialenddate > a.now_utc, false) as in_trial,
    json_extract_string(l.opts, '$.connectorEdition') as edition
from integrator_io_licenses l
cross join as_of a
left join integrator_io_connectors k on k._id = l._connectorid;

-- Stripe's active entitlements: the features each customer may use now (Stripe removes an entitlement
-- when its subscription ends), by the customer's e-mail.
create or replace temp view entitlements as
select
    e.customer_id,
    lower(trim(c.email)) as email,
    e.lookup_key
from active_entitlements e
join customers c on c.id = e.customer_id
where not coalesce(e.is_deleted, false)
    and not coalesce(c.is_deleted, false);

-- Orb licenses (seats) with their subscription's status and customer e-mail. A license is active while
-- its status is `active` and its `end_date`, if any, is ahead; its type's name comes from orb_license_types.
create or replace temp view orb_seats as
select
    l.id as license_id,
    l.subscription_id,
    l.license_type_id,
    t.name as license_type,
    l.external_license_id,
    s.status as subscription_status,
    lower(trim(coalesce(c.email, json_extract_string(s.customer, '$.email')))) as email,
    l.status = 'active' and (l.end_date is null or l.end_date > a.now_utc) as is_active
from orb_licenses l
cross join as_of a
left join orb_subscriptions s on s.id = l.subscription_id
left join orb_customers c on c.id = json_extract_string(s.customer, '$.id')
left join orb_license_types t on t.id = l.license_type_id;

-- Active Orb licenses on subscriptions that are not active
-- Orb ends a subscription's licenses with it; a seat still active on an ended (or missing) subscription is
-- one to deactivate.
select
    o.license_id,
    o.subscription_id,
    coalesce(o.subscription_status, 'not synced') as subscription_status,
    o.license_type,
    o.external_license_id,
    o.email,
    o.license_type_id
from orb_seats o
where o.is_active
    and coalesce(o.subscription_status, '') <> 'active'
order by o.subscription_id, o.external_license_id;

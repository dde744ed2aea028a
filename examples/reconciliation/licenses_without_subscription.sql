-- Active licenses whose licensee has no active Stripe or Orb subscription
-- Licenses in trial are expected here (flagged `in_trial`); the others are the ones to chase or expire.
select
    l.license_id,
    l.connector_name,
    l.email,
    l.expires,
    l.in_trial,
    l.is_installed,
    l.connector_id
from licenses l
where l.is_active
    and not exists (select 1 from active_subscriptions s where s.email = l.email)
order by l.in_trial, l.email, l.license_id;

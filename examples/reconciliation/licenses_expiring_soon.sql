-- Licenses expiring in the next 30 days
-- `has_active_subscription`: whether a renewal is expected (the licensee still pays through Stripe or Orb).
select
    l.license_id,
    l.connector_name,
    l.email,
    l.expires,
    date_diff('day', a.now_utc, l.expires) as days_left,
    l.is_installed,
    exists (select 1 from active_subscriptions s where s.email = l.email) as has_active_subscription
from licenses l
cross join as_of a
where l.expires > a.now_utc
    and l.expires <= a.now_utc + interval 30 day
order by l.expires, l.license_id;

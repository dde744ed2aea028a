-- Active integrator.io licenses whose e-mail has no active Orb license
-- `orb_subscription`: the licensee's active Orb subscription, if any (billed through Orb, yet no seat);
-- without one the licensee may bill through Stripe, and no Orb seat is expected.
select
    l.license_id,
    l.connector_name,
    l.email,
    l.in_trial,
    min(s.subscription_id) as orb_subscription
from licenses l
left join active_subscriptions s on s.email = l.email and s.billing = 'orb'
where l.is_active
    and not exists (select 1 from orb_seats o where o.is_active and o.email = l.email)
group by all
order by orb_subscription nulls last, l.email, l.license_id;

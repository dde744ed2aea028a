-- Stripe entitlements of customers without an active integrator.io license
-- `features`: the customer's active entitlements (feature lookup keys), which Stripe grants from what the
-- customer pays for.
select
    e.customer_id,
    e.email,
    string_agg(distinct e.lookup_key, ', ' order by e.lookup_key) as features
from entitlements e
where not exists (select 1 from licenses l where l.is_active and l.email = e.email)
group by all
order by e.email, e.customer_id;

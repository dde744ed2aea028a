-- Active subscriptions whose customer has no installed, active license
-- `license_state` says why: no license at all for the e-mail, a license never installed, or an installed
-- license that has expired. One row per subscription (a customer may have several).
select
    s.billing,
    s.subscription_id,
    s.customer_id,
    s.email,
    s.status,
    case
        when count(l.license_id) = 0 then 'no license'
        when bool_or(l.is_installed) then 'installed license expired'
        else 'licensed, not installed'
    end as license_state
from active_subscriptions s
left join licenses l on l.email = s.email
group by all
having not coalesce(bool_or(l.is_installed and l.is_active), false)
order by
    case license_state when 'no license' then 0 when 'licensed, not installed' then 1 else 2 end,
    s.email,
    s.billing,
    s.subscription_id;

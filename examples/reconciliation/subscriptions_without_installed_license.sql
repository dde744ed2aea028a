-- Active subscriptions whose customer has no installed, active license
-- `license_state` says why: no license at all for the e-mail, an installed license that has expired, licenses
-- never installed that have all expired, or an active license never installed (`connector_id`: the connector
-- of the expired license to renew). One row per subscription (a customer may have several).
select
    s.billing,
    s.subscription_id,
    s.customer_id,
    s.email,
    s.status,
    case
        when count(l.license_id) = 0 then 'no license'
        when bool_or(l.is_installed) then 'installed license expired'
        when not bool_or(l.is_active) then 'license expired'
        else 'licensed, not installed'
    end as license_state,
    case
        when bool_or(l.is_installed) then min(l.connector_id) filter (where l.is_installed)
        when not bool_or(l.is_active) then min(l.connector_id)
    end as connector_id
from active_subscriptions s
left join licenses l on l.email = s.email
group by all
having not coalesce(bool_or(l.is_installed and l.is_active), false)
order by
    case license_state
        when 'no license' then 0
        when 'license expired' then 1
        when 'licensed, not installed' then 2
        else 3
    end,
    s.email,
    s.billing,
    s.subscription_id;

//! The provision unit (SPEC §5): what the store loaded under its locks goes
//! in, a plan of effects or a refusal comes out. The store applies the plan
//! in the same transaction.

use std::time::Duration;

use jpstart_types::{ActivationId, KeyId, PartnerId};

use super::catalogue::ResolvedProduct;
use super::holder::{may_change_site, SiteChange};
use super::limits::LimitUse;
use super::refusal::ProvisionRefusal;
use super::rules::{product_rules, LiveActivation, ProductDecision};
use super::state::ActivationState;
use crate::clock::Timestamp;

/// What a provision decision needs, read by the store inside its
/// transaction (the key and site rows locked).
#[derive(Clone, Debug)]
pub struct ProvisionContext<'a> {
    pub caller: KeyId,
    /// The caller's partner: the holder rule counts every key of it.
    pub partner: PartnerId,
    /// Whether the site is connected as stored (before any `force_*`).
    pub connected: bool,
    pub force_register: bool,
    pub force_connect: bool,
    /// The site's live activations (expired ones already swept).
    pub live: &'a [LiveActivation],
    /// Each limit that applies to the key for the product, with its live
    /// count (none: unlimited). See [`super::limits::applicable`].
    pub limits: &'a [LimitUse],
    pub now: Timestamp,
    /// How long a pending activation (and its link) waits for the owner.
    pub pending_ttl: Duration,
}

/// The effects of an allowed provision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProvisionPlan {
    /// Drop the site's connection first; `new_registration` also gives the
    /// site a fresh registration.
    pub reset: Option<SiteReset>,
    /// Whether the site is connected once the plan is applied.
    pub connected: bool,
    pub activation: Option<ActivationPlan>,
    /// Issue an authorization link valid until then: the site waits for
    /// its owner's approval. It replaces the caller's earlier link for the
    /// site (one live link per site and key, SPEC §11).
    pub link_expires_at: Option<Timestamp>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SiteReset {
    pub new_registration: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ActivationPlan {
    /// The caller already has the product live here: nothing new.
    AlreadyLive {
        id: ActivationId,
        state: ActivationState,
    },
    Create(NewActivation),
}

/// An activation to insert.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewActivation {
    pub state: ActivationState,
    pub activated_at: Option<Timestamp>,
    pub expires_at: Option<Timestamp>,
    /// A lower tier of the caller's to end as superseded, and the state it
    /// leaves.
    pub supersede: Option<(ActivationId, ActivationState)>,
}

/// A provision to a site that neither exists nor can be registered (a blog
/// id jpstart does not know; `shown` is how the request named it).
pub fn site_missing(shown: String) -> ProvisionRefusal {
    ProvisionRefusal::UnknownBlog(shown)
}

/// The pending TTL rule: a pending activation and its link wait this long.
pub fn pending_until(now: Timestamp, ttl: Duration) -> Timestamp {
    now.saturating_add(ttl)
}

/// Decides a provision: the holder rule for `force_*` (refused: nothing
/// is done), the product rules, then the limits, then whether the
/// activation waits for the owner (site not connected: pending, with a
/// link) or is active at once. `product: None` registers (and maybe resets)
/// the site only.
pub fn decide(
    ctx: &ProvisionContext<'_>,
    product: Option<&ResolvedProduct>,
) -> Result<ProvisionPlan, ProvisionRefusal> {
    if ctx.force_register {
        may_change_site(ctx.live, ctx.partner, SiteChange::Registration)?;
    } else if ctx.force_connect {
        may_change_site(ctx.live, ctx.partner, SiteChange::Connection)?;
    }
    let reset = (ctx.force_register || ctx.force_connect).then_some(SiteReset {
        new_registration: ctx.force_register,
    });
    let connected = ctx.connected && reset.is_none();
    let activation = match product {
        None => None,
        Some(product) => Some(decide_activation(ctx, connected, product)?),
    };
    // The link is issued whenever the site ends up waiting for its owner,
    // product or not, and when the caller's activation still waits on a
    // site connected through another partner's link (SPEC §11).
    let waits = matches!(
        activation,
        Some(ActivationPlan::AlreadyLive {
            state: ActivationState::Pending,
            ..
        })
    );
    let link_expires_at = (!connected || waits).then(|| pending_until(ctx.now, ctx.pending_ttl));
    Ok(ProvisionPlan {
        reset,
        connected,
        activation,
        link_expires_at,
    })
}

fn decide_activation(
    ctx: &ProvisionContext<'_>,
    connected: bool,
    product: &ResolvedProduct,
) -> Result<ActivationPlan, ProvisionRefusal> {
    let supersede = match product_rules(ctx.live, ctx.caller, product)? {
        ProductDecision::AlreadyLive { activation_id } => {
            let state = ctx
                .live
                .iter()
                .find(|a| a.id == activation_id)
                .map_or(ActivationState::Active, |a| a.state);
            return Ok(ActivationPlan::AlreadyLive {
                id: activation_id,
                state,
            });
        }
        ProductDecision::Create { supersede } => supersede,
    };
    if ctx.limits.iter().any(|l| !l.has_room()) {
        return Err(ProvisionRefusal::LimitReached(product.slug.clone()));
    }
    let supersede = supersede.map(|old| {
        let from = ctx
            .live
            .iter()
            .find(|a| a.id == old)
            .map_or(ActivationState::Active, |a| a.state);
        (old, from)
    });
    let new = if connected {
        NewActivation {
            state: ActivationState::Active,
            activated_at: Some(ctx.now),
            expires_at: None,
            supersede,
        }
    } else {
        NewActivation {
            state: ActivationState::Pending,
            activated_at: None,
            expires_at: Some(pending_until(ctx.now, ctx.pending_ttl)),
            supersede,
        }
    };
    Ok(ActivationPlan::Create(new))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::rules::tests::live;
    use crate::domain::Catalogue;
    use jpstart_types::ProductSlug;

    const ME: KeyId = KeyId::new(1);
    const MINE: PartnerId = PartnerId::new(1);
    const T: Timestamp = Timestamp::from_millis(1_000);
    const TTL: Duration = Duration::from_secs(60);

    fn ctx<'a>(
        connected: bool,
        live: &'a [LiveActivation],
        limits: &'a [LimitUse],
    ) -> ProvisionContext<'a> {
        ProvisionContext {
            caller: ME,
            partner: MINE,
            connected,
            force_register: false,
            force_connect: false,
            live,
            limits,
            now: T,
            pending_ttl: TTL,
        }
    }

    fn premium() -> ResolvedProduct {
        Catalogue::builtin()
            .resolve(&ProductSlug::parse("premium").unwrap())
            .unwrap()
    }

    #[test]
    fn limit_reached_refuses_and_room_allows() {
        let full = [LimitUse { max: 1, live: 1 }];
        assert_eq!(
            decide(&ctx(true, &[], &full), Some(&premium())),
            Err(ProvisionRefusal::LimitReached(premium().slug))
        );
        let room = [LimitUse { max: 2, live: 1 }];
        assert!(decide(&ctx(true, &[], &room), Some(&premium())).is_ok());
        assert!(decide(&ctx(true, &[], &[]), Some(&premium())).is_ok());
    }

    #[test]
    fn already_live_succeeds_even_at_the_limit() {
        let site = [live(7, "premium", Some(ME))];
        let full = [LimitUse { max: 1, live: 1 }];
        let plan = decide(&ctx(true, &site, &full), Some(&premium())).unwrap();
        assert_eq!(
            plan.activation,
            Some(ActivationPlan::AlreadyLive {
                id: ActivationId::new(7),
                state: ActivationState::Active
            })
        );
    }

    #[test]
    fn connected_site_is_active_at_once_without_a_link() {
        let plan = decide(&ctx(true, &[], &[]), Some(&premium())).unwrap();
        assert_eq!(plan.link_expires_at, None);
        assert_eq!(
            plan.activation,
            Some(ActivationPlan::Create(NewActivation {
                state: ActivationState::Active,
                activated_at: Some(T),
                expires_at: None,
                supersede: None,
            }))
        );
    }

    #[test]
    fn unconnected_site_waits_the_ttl_with_a_link() {
        let until = T.saturating_add(TTL);
        let plan = decide(&ctx(false, &[], &[]), Some(&premium())).unwrap();
        assert_eq!(plan.link_expires_at, Some(until));
        let Some(ActivationPlan::Create(new)) = plan.activation else {
            panic!("expected a new activation");
        };
        assert_eq!(new.state, ActivationState::Pending);
        assert_eq!(new.expires_at, Some(until));
        // No product: the link is still issued for an unconnected site.
        let plan = decide(&ctx(false, &[], &[]), None).unwrap();
        assert_eq!(plan.link_expires_at, Some(until));
        assert_eq!(plan.activation, None);
    }

    #[test]
    fn force_connect_drops_the_connection_and_needs_a_link() {
        let mut c = ctx(true, &[], &[]);
        c.force_connect = true;
        let plan = decide(&c, None).unwrap();
        assert_eq!(
            plan.reset,
            Some(SiteReset {
                new_registration: false
            })
        );
        assert!(!plan.connected);
        assert!(plan.link_expires_at.is_some());
        c.force_register = true;
        assert_eq!(
            decide(&c, None).unwrap().reset,
            Some(SiteReset {
                new_registration: true
            })
        );
    }

    #[test]
    fn force_on_a_site_another_partner_holds_is_refused() {
        let theirs = [live(5, "premium", Some(KeyId::new(2)))];
        let mut c = ctx(true, &theirs, &[]);
        c.force_connect = true;
        assert_eq!(
            decide(&c, Some(&premium())),
            Err(ProvisionRefusal::NotHolder(crate::domain::NotHolder(
                SiteChange::Connection
            )))
        );
        c.force_register = true;
        assert_eq!(
            decide(&c, None),
            Err(ProvisionRefusal::NotHolder(crate::domain::NotHolder(
                SiteChange::Registration
            )))
        );
        // Without force_*: the usual rules, no refusal for the site.
        assert!(decide(&ctx(true, &theirs, &[]), None).is_ok());
        // The holder itself may.
        let mine = [live(6, "jetpack-scan", Some(ME))];
        let mut c = ctx(true, &mine, &[]);
        c.force_register = true;
        assert!(decide(&c, None).is_ok());
    }

    #[test]
    fn a_pending_activation_on_a_connected_site_gets_a_link() {
        let mut mine = live(7, "premium", Some(ME));
        mine.state = ActivationState::Pending;
        let site = [mine];
        let plan = decide(&ctx(true, &site, &[]), Some(&premium())).unwrap();
        assert!(plan.connected);
        assert_eq!(plan.link_expires_at, Some(T.saturating_add(TTL)));
    }

    #[test]
    fn an_upgrade_supersedes_from_the_state_it_leaves() {
        let mut old = live(3, "personal", Some(ME));
        old.state = ActivationState::Pending;
        let site = [old];
        let plan = decide(&ctx(false, &site, &[]), Some(&premium())).unwrap();
        let Some(ActivationPlan::Create(new)) = plan.activation else {
            panic!("expected a new activation");
        };
        assert_eq!(
            new.supersede,
            Some((ActivationId::new(3), ActivationState::Pending))
        );
    }
}

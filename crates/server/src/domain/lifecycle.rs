//! The other units of work on activations and sites: cancel, the
//! operator's grant, connecting a site (the operator, or its owner through a
//! link), link validity, the expiry sweep, sub-key creation and backup
//! credentials. Each is a pure decision over what the store loaded under
//! its locks.

use jpstart_types::{ActivationId, BlogId, KeyId, PartnerId, ProductSlug, SiteRef};

use super::holder::{may_change_site, SiteChange};
use super::limits;
use super::refusal::{CancelRefusal, CredentialsRefusal, GrantRefusal, LinkRefusal, SubKeyRefusal};
use super::rules::{cancel_targets, CancelTarget, LiveActivation};
use super::state::ActivationState;
use crate::clock::Timestamp;

/// One live activation to end, and the state it leaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transition {
    pub id: ActivationId,
    pub from: ActivationState,
    pub to: ActivationState,
    /// When it ended (or started).
    pub at: Timestamp,
}

/// Decides a partner-cancel. `live`: the site's live activations, `None`
/// when no site matched `site`. An unknown blog id is refused; an unknown
/// identifier is "nothing to cancel", so that retries are harmless.
pub fn decide_cancel(
    site: &SiteRef,
    live: Option<&[LiveActivation]>,
    caller: KeyId,
    target: &CancelTarget,
    now: Timestamp,
) -> Result<Vec<Transition>, CancelRefusal> {
    let Some(live) = live else {
        return match site {
            SiteRef::BlogId(id) => Err(CancelRefusal::UnknownBlog(*id)),
            SiteRef::Identifier(_) => Ok(Vec::new()),
        };
    };
    let ids = cancel_targets(live, caller, target)?;
    Ok(live
        .iter()
        .filter(|a| ids.contains(&a.id))
        .map(|a| Transition {
            id: a.id,
            from: a.state,
            to: ActivationState::Cancelled,
            at: now,
        })
        .collect())
}

/// The operator's grant: an active activation outside the partner API, on a
/// site with no live product of the family.
pub fn decide_grant(live: &[LiveActivation], family: &str) -> Result<(), GrantRefusal> {
    if live.iter().any(|a| a.family == family) {
        return Err(GrantRefusal::FamilyTaken {
            family: family.to_string(),
        });
    }
    Ok(())
}

/// Who connects a site.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnectedBy {
    /// `jpstart admin site connect`: as if every partner's link was approved.
    Operator,
    /// The site owner, through the authorization link this partner requested.
    Link(PartnerId),
}

/// Connecting a site activates its pending activations: the operator's
/// connect all of them, an approved link those of the partner that
/// requested it (every key of it) only, so that one partner's approval
/// never bills another (SPEC §11).
pub fn decide_connect(live: &[LiveActivation], by: ConnectedBy, now: Timestamp) -> Vec<Transition> {
    live.iter()
        .filter(|a| a.is_pending())
        .filter(|a| match by {
            ConnectedBy::Operator => true,
            ConnectedBy::Link(partner) => a.partner_id == Some(partner),
        })
        .map(|a| Transition {
            id: a.id,
            from: ActivationState::Pending,
            to: ActivationState::Active,
            at: now,
        })
        .collect()
}

/// An authorization link as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthLink {
    pub blog_id: BlogId,
    pub key_id: KeyId,
    pub partner_id: PartnerId,
    pub expires_at: Timestamp,
    pub used: bool,
}

/// Link validity: a link approves once, until it expires.
pub fn link_validity(link: &AuthLink, now: Timestamp) -> Result<(), LinkRefusal> {
    if link.used {
        return Err(LinkRefusal::Used);
    }
    if link.expires_at <= now {
        return Err(LinkRefusal::Expired);
    }
    Ok(())
}

/// A pending activation whose time may have run out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PendingActivation {
    pub id: ActivationId,
    pub expires_at: Timestamp,
}

/// The expiry rule: a pending activation is live until `expires_at`
/// (exclusive); then it is expired, as of `expires_at`. (The store's SQL
/// live predicate is this rule written for queries.)
pub fn is_expired(expires_at: Timestamp, now: Timestamp) -> bool {
    expires_at <= now
}

/// The expiry sweep over pending activations.
pub fn decide_expiry(pending: &[PendingActivation], now: Timestamp) -> Vec<Transition> {
    pending
        .iter()
        .filter(|p| is_expired(p.expires_at, now))
        .map(|p| Transition {
            id: p.id,
            from: ActivationState::Pending,
            to: ActivationState::Expired,
            at: p.expires_at,
        })
        .collect()
}

/// The key a sub-key is created under, as the store read it (locked).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParentKey {
    pub id: KeyId,
    pub partner_id: PartnerId,
    pub parent_key_id: Option<KeyId>,
    pub test: bool,
}

/// What a new sub-key inherits from its parent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SubKeyPlan {
    pub partner_id: PartnerId,
    pub parent_key_id: KeyId,
    /// A test key's sub-keys are never billed either.
    pub test: bool,
}

/// Whether a key may create sub-keys: one level of resale, so that limits
/// are set by the partner's own key and a sub-key cannot hand itself more.
pub fn may_create_keys(is_sub_key: bool) -> Result<(), SubKeyRefusal> {
    if is_sub_key {
        Err(SubKeyRefusal::ParentIsSubKey)
    } else {
        Ok(())
    }
}

/// What a sub-key creation is decided on, loaded under the parent key's
/// lock and then its partner's.
#[derive(Clone, Debug)]
pub struct SubKeyContext<'a> {
    pub parent: ParentKey,
    /// The parent's stored limits.
    pub parent_limits: &'a [(ProductSlug, i64)],
    /// The limits asked for the new key (each within [`limits::in_bound`]).
    pub asked: &'a [(ProductSlug, i64)],
    /// The partner's sub-keys, before this one.
    pub sub_keys: i64,
    /// The most sub-keys a partner may have (SPEC §11).
    pub max_sub_keys: u32,
}

/// One level of resale, at most `max_sub_keys` per partner, and limits
/// within the parent's ([`limits::cap_by_parent`]).
pub fn decide_sub_key(ctx: &SubKeyContext<'_>) -> Result<SubKeyPlan, SubKeyRefusal> {
    let parent = &ctx.parent;
    may_create_keys(parent.parent_key_id.is_some())?;
    if ctx.sub_keys >= i64::from(ctx.max_sub_keys) {
        return Err(SubKeyRefusal::TooMany {
            max: ctx.max_sub_keys,
        });
    }
    limits::cap_by_parent(ctx.asked, ctx.parent_limits).map_err(SubKeyRefusal::AboveParent)?;
    Ok(SubKeyPlan {
        partner_id: parent.partner_id,
        parent_key_id: parent.id,
        test: parent.test,
    })
}

/// Disabling a key disables its sub-keys: a key is refused while it or
/// its parent is disabled (read at every request, so on every server at
/// once).
pub fn key_disabled(own: bool, parent_disabled: bool) -> bool {
    own || parent_disabled
}

/// Backup credentials are stored for a registered site only (`live`: its
/// live activations; `None`: no such site), and by the holder rule.
pub fn decide_credentials(
    blog: BlogId,
    live: Option<&[LiveActivation]>,
    partner: PartnerId,
) -> Result<(), CredentialsRefusal> {
    let live = live.ok_or(CredentialsRefusal::UnknownBlog(blog))?;
    Ok(may_change_site(live, partner, SiteChange::Credentials)?)
}

#[cfg(test)]
#[path = "lifecycle_tests.rs"]
mod tests;

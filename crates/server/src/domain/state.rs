//! The closed sets of the model, each with its one text form: the value
//! stored in the database and printed by the operator's tools.

use std::fmt;

use jpstart_types::KeyId;

/// Where an activation is in its life (SPEC §4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ActivationState {
    /// Waiting for the site owner to approve the connection.
    Pending,
    Active,
    Cancelled,
    /// Replaced by a higher tier of the same family (an upgrade).
    Superseded,
    /// A pending activation not approved in time.
    Expired,
}

impl ActivationState {
    pub const ALL: [ActivationState; 5] = [
        ActivationState::Pending,
        ActivationState::Active,
        ActivationState::Cancelled,
        ActivationState::Superseded,
        ActivationState::Expired,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            ActivationState::Pending => "pending",
            ActivationState::Active => "active",
            ActivationState::Cancelled => "cancelled",
            ActivationState::Superseded => "superseded",
            ActivationState::Expired => "expired",
        }
    }

    /// The inverse of [`ActivationState::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// Live: counted against limits, shown by status, one per site and family.
    pub const fn is_live(self) -> bool {
        matches!(self, ActivationState::Pending | ActivationState::Active)
    }
}

impl fmt::Display for ActivationState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who made a state change, as the event log records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Actor {
    /// A partner key, through the API.
    Key(KeyId),
    /// The operator, through `jpstart admin`.
    Operator,
    /// The site owner, on the authorization page.
    SiteOwner,
    /// The server itself (the expiry sweep).
    System,
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Actor::Key(k) => write!(f, "key:{k}"),
            Actor::Operator => f.write_str("operator"),
            Actor::SiteOwner => f.write_str("site-owner"),
            Actor::System => f.write_str("system"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_round_trip_through_their_text() {
        for s in ActivationState::ALL {
            assert_eq!(ActivationState::parse(s.as_str()), Some(s));
        }
        assert_eq!(ActivationState::parse("live"), None);
        assert!(ActivationState::Pending.is_live() && !ActivationState::Expired.is_live());
    }

    #[test]
    fn actors_as_the_event_log_writes_them() {
        assert_eq!(Actor::Key(KeyId::new(4)).to_string(), "key:4");
        assert_eq!(Actor::SiteOwner.to_string(), "site-owner");
        assert_eq!(Actor::System.to_string(), "system");
        assert_eq!(Actor::Operator.to_string(), "operator");
    }
}

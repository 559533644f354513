//! The holder rule (SPEC §11): partners are not trusted with each other's
//! customers. A partner that holds a live activation on a site, through any
//! of its keys, may change the site's state; so may any partner while no
//! other partner holds one. Operator-granted activations (no key) make no
//! partner a holder. Provision (`force_connect`, `force_register`) and
//! backup credentials ask [`may_change_site`], over the live activations
//! the store loaded under the site's lock.

use jpstart_types::PartnerId;

use super::refusal::NotHolder;
use super::rules::LiveActivation;

/// What a partner asks to change on a site (named in the refusal).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SiteChange {
    /// `force_connect`: drop the connection.
    Connection,
    /// `force_register`: a fresh registration (and the URL given).
    Registration,
    /// SSH or FTP backup credentials.
    Credentials,
}

impl SiteChange {
    pub fn describe(self) -> &'static str {
        match self {
            SiteChange::Connection => "its connection (force_connect)",
            SiteChange::Registration => "its registration (force_register)",
            SiteChange::Credentials => "its backup credentials",
        }
    }
}

/// Whether `partner` may change the site whose live activations are `live`.
pub fn may_change_site(
    live: &[LiveActivation],
    partner: PartnerId,
    change: SiteChange,
) -> Result<(), NotHolder> {
    let holders = || live.iter().filter_map(|a| a.partner_id);
    if holders().any(|p| p == partner) || holders().all(|p| p == partner) {
        Ok(())
    } else {
        Err(NotHolder(change))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::rules::tests::live;
    use jpstart_types::KeyId;

    const A: PartnerId = PartnerId::new(1);
    const B: PartnerId = PartnerId::new(2);

    fn of(id: i64, partner: Option<PartnerId>) -> LiveActivation {
        let mut a = live(id, "premium", partner.map(|_| KeyId::new(id)));
        a.partner_id = partner;
        a
    }

    #[test]
    fn only_holders_or_anyone_on_an_unheld_site() {
        let c = SiteChange::Connection;
        assert_eq!(may_change_site(&[], B, c), Ok(()));
        assert_eq!(may_change_site(&[of(1, Some(A))], A, c), Ok(()));
        assert_eq!(
            may_change_site(&[of(1, Some(A))], B, SiteChange::Credentials),
            Err(NotHolder(SiteChange::Credentials))
        );
        // Holding one is enough, whoever else holds others.
        assert_eq!(
            may_change_site(&[of(1, Some(A)), of(2, Some(B))], B, c),
            Ok(())
        );
        // The operator's grant makes nobody a holder.
        assert_eq!(may_change_site(&[of(1, None)], B, c), Ok(()));
        assert_eq!(
            may_change_site(&[of(1, None), of(2, Some(A))], B, c),
            Err(NotHolder(c))
        );
    }
}

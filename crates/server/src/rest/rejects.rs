//! What each piece of a request's path can answer, so that an endpoint's
//! error list is derived rather than written: an extractor declares its
//! rejections ([`Rejects`]), a handler's are the union of its arguments'
//! ([`errors_of`], read from its signature), the endpoint's declaration adds
//! the refusals of its own parsing and unit of work, and [`EVERYWHERE`] adds
//! what the layers around every route answer. `/help`, the OpenAPI document
//! and the guard of [`super::routes::versioned`] all read the result.

use axum::extract::State;
use axum::Extension;

use crate::domain::ErrorCode;

/// A set of catalogue codes. Iterates in catalogue order, so a derived list
/// reads the same however it was put together.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ErrorSet(u64);

const _: () = assert!(ErrorCode::ALL.len() <= 64, "ErrorSet holds 64 codes");

impl ErrorSet {
    pub const EMPTY: ErrorSet = ErrorSet(0);

    pub const fn of(codes: &[ErrorCode]) -> Self {
        ErrorSet::EMPTY.with(codes)
    }

    /// This set and `codes`: where a refusal type's code list plugs in.
    pub const fn with(self, codes: &[ErrorCode]) -> Self {
        let mut bits = self.0;
        let mut i = 0;
        while i < codes.len() {
            bits |= 1 << (codes[i] as u32);
            i += 1;
        }
        ErrorSet(bits)
    }

    pub const fn union(self, other: ErrorSet) -> Self {
        ErrorSet(self.0 | other.0)
    }

    pub fn contains(self, code: ErrorCode) -> bool {
        self.0 & (1 << (code as u32)) != 0
    }

    /// The codes, in catalogue order.
    pub fn codes(self) -> impl Iterator<Item = ErrorCode> {
        ErrorCode::ALL
            .iter()
            .copied()
            .filter(move |c| self.contains(*c))
    }
}

/// Answered around every REST route, whatever its handler: the deadline
/// ([`super::deadline`]), a panic or a store fault (`internal_error`), and
/// the parameter errors of [`super::Params`]. The last two are listed on
/// the few operations that read no parameters too, as they always were: the
/// document only grows.
pub const EVERYWHERE: ErrorSet = ErrorSet::of(super::deadline::ERRORS)
    .with(&[ErrorCode::InternalError])
    .with(super::params::ERRORS);

/// An extractor's rejections (for an infallible one, none).
pub trait Rejects {
    const ERRORS: &'static [ErrorCode];
}

impl<S> Rejects for State<S> {
    const ERRORS: &'static [ErrorCode] = &[];
}

impl<T> Rejects for Option<Extension<T>> {
    const ERRORS: &'static [ErrorCode] = &[];
}

/// `a` then `b`, as one list: the rejections of an extractor made of two
/// others (`N` = the sum of their lengths).
pub const fn joined<const N: usize>(a: &[ErrorCode], b: &[ErrorCode]) -> [ErrorCode; N] {
    let mut out = [ErrorCode::InternalError; N];
    let mut i = 0;
    while i < a.len() {
        out[i] = a[i];
        i += 1;
    }
    let mut j = 0;
    while j < b.len() {
        out[i + j] = b[j];
        j += 1;
    }
    out
}

/// The rejections of a handler's arguments, from its signature.
pub trait HandlerErrors<Args> {
    const ERRORS: ErrorSet;
}

macro_rules! handler_errors {
    ($($arg:ident),*) => {
        impl<F, Fut, $($arg: Rejects),*> HandlerErrors<($($arg,)*)> for F
        where
            F: FnOnce($($arg),*) -> Fut,
        {
            const ERRORS: ErrorSet = ErrorSet::EMPTY $(.with($arg::ERRORS))*;
        }
    };
}

handler_errors!();
handler_errors!(A);
handler_errors!(A, B);
handler_errors!(A, B, C);
handler_errors!(A, B, C, D);
handler_errors!(A, B, C, D, E);

/// What `handler`'s extractors can reject a request with.
pub fn errors_of<F: HandlerErrors<Args>, Args>(_handler: &F) -> ErrorSet {
    F::ERRORS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_follow_the_catalogue() {
        for (i, c) in ErrorCode::ALL.iter().enumerate() {
            assert_eq!(*c as usize, i, "{c}");
        }
        let set = ErrorSet::of(&[ErrorCode::InvalidScope, ErrorCode::NotAllowed]);
        let got: Vec<ErrorCode> = set.codes().collect();
        assert_eq!(got, [ErrorCode::NotAllowed, ErrorCode::InvalidScope]);
        assert!(!set.contains(ErrorCode::InvalidBlog));
        assert_eq!(set.with(&[ErrorCode::NotAllowed]), set);
    }

    #[test]
    fn a_signature_gives_its_extractors_errors() {
        struct Rejecting;
        impl Rejects for Rejecting {
            const ERRORS: &'static [ErrorCode] = &[ErrorCode::InvalidToken];
        }
        async fn handler(_: State<()>, _: Rejecting) {}
        assert_eq!(
            errors_of(&handler),
            ErrorSet::of(&[ErrorCode::InvalidToken])
        );
    }
}

//! The sandbox at request time (SPEC §9): the one hook the site endpoints
//! call ([`intercept`]), and the mark that lets its answers through the
//! endpoint guard ([`answers`]). The rules themselves are pure, in
//! [`crate::domain::sandbox`]; the `/sandbox` pages are in
//! [`crate::api::sandbox`], rendered by [`html`].
//!
//! Off the sandbox, [`intercept`] returns at once: no query, no parsing,
//! the magic names are ordinary sites.
//!
//! Why a mark: an error site answers codes its endpoint never declares
//! (`invalid_input` on provision, `internal_error` as a real answer, ...).
//! Declaring all of them on every endpoint would make `/help` and the
//! OpenAPI document list codes no real request can meet, and would switch
//! the debug-build check of undeclared codes off for those endpoints. So
//! the hook marks the one answer it made (in a task-local slot the guard
//! opens per request), and the guard skips exactly that code of exactly
//! that answer; any other undeclared code is still caught.

pub mod html;

use std::borrow::Cow;
use std::cell::Cell;
use std::future::Future;

use jpstart_types::{KeyId, SiteIdentifier, SiteRef};

use crate::app::state::AppState;
use crate::domain::sandbox::{flaky_fails, MagicSite};
use crate::domain::{ApiError, ErrorCode};

tokio::task_local! {
    /// The code a sandbox answer of this request carries, if any.
    static ANSWERED: Cell<Option<ErrorCode>>;
}

/// Runs a request's handler with a slot for the mark, and returns its
/// output with the code [`intercept`] answered, if it did.
pub async fn answers<F: Future>(handler: F) -> (F::Output, Option<ErrorCode>) {
    ANSWERED
        .scope(Cell::new(None), async move {
            let out = handler.await;
            (out, ANSWERED.with(Cell::get))
        })
        .await
}

/// The sandbox's hook for a site named by a path segment (blog id or
/// identifier) or by `partner-provision`'s blog id: a blog id is looked up
/// (a site no row has is not magic; the endpoint answers as it would).
/// See [`intercept_site`].
pub async fn intercept(state: &AppState, key_id: KeyId, site: &SiteRef) -> Result<(), ApiError> {
    if !state.sandbox {
        return Ok(());
    }
    let identifier = match site {
        SiteRef::Identifier(i) => Cow::Borrowed(i),
        SiteRef::BlogId(_) => match state.store.site(site, state.clock.now()).await? {
            Some(s) => Cow::Owned(s.identifier),
            None => return Ok(()),
        },
    };
    intercept_site(state, key_id, &identifier).await
}

/// The sandbox's hook, called by provision, cancel, status and
/// upgrade-paths once they know the site and the calling key: `Err` is
/// the answer of an error site, or of a flaky one still failing; a slow
/// site returns `Ok` after its wait; any other site returns `Ok` at once.
pub async fn intercept_site(
    state: &AppState,
    key_id: KeyId,
    site: &SiteIdentifier,
) -> Result<(), ApiError> {
    if !state.sandbox {
        return Ok(());
    }
    match MagicSite::of(site) {
        None => Ok(()),
        Some(MagicSite::Error(code)) => answer(site, crate::domain::sandbox::magic_error(code)),
        Some(MagicSite::Slow { ms }) => {
            // Real time, not the test clock: the point is a slow answer.
            tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
            Ok(())
        }
        Some(MagicSite::Flaky { failures: 0 }) => Ok(()),
        Some(MagicSite::Flaky { failures }) => {
            let hit = state.store.sandbox_flaky_hit(key_id, site).await?;
            if flaky_fails(failures, hit) {
                answer(site, ApiError::new(ErrorCode::ServiceUnavailable))
            } else {
                Ok(())
            }
        }
    }
}

/// A sandbox answer: marked for the guard, and logged as what it is.
fn answer(site: &SiteIdentifier, err: ApiError) -> Result<(), ApiError> {
    // Outside a guarded route there is no slot, and nothing to skip.
    let _ = ANSWERED.try_with(|slot| slot.set(Some(err.code)));
    tracing::info!(site = %site, code = %err.code, "sandbox: magic site answered");
    Err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_mark_is_per_request() {
        let site = SiteIdentifier::parse("internal-error.error.jpstart.test").unwrap();
        let (out, code) =
            answers(async { answer(&site, ApiError::new(ErrorCode::InternalError)).is_err() })
                .await;
        assert!(out);
        assert_eq!(code, Some(ErrorCode::InternalError));
        let ((), code) = answers(async {}).await;
        assert_eq!(code, None);
        // No slot (not under the guard): no mark, no panic.
        assert!(answer(&site, ApiError::new(ErrorCode::InternalError)).is_err());
    }

    /// The guard lets the marked answer through, and only that one: an
    /// undeclared code the hook did not answer is still a 500.
    #[tokio::test]
    async fn the_guard_passes_only_the_marked_answer() {
        use axum::response::IntoResponse;
        use tower::ServiceExt;

        use crate::rest::rejects::ErrorSet;
        use crate::rest::routes::versioned;
        use crate::rest::ApiVersion;

        async fn call(app: axum::Router, path: &str) -> u16 {
            let mut req = axum::extract::Request::builder()
                .uri(path)
                .body(axum::body::Body::empty())
                .unwrap();
            req.extensions_mut().insert(ApiVersion::V1_3);
            app.oneshot(req).await.unwrap().status().as_u16()
        }
        let site = || SiteIdentifier::parse("forbidden.error.jpstart.test").unwrap();
        let marked = axum::routing::get(move || async move {
            answer(&site(), ApiError::new(ErrorCode::Forbidden)).into_response()
        });
        let other = axum::routing::get(move || async move {
            let _ = answer(&site(), ApiError::new(ErrorCode::Forbidden));
            ApiError::new(ErrorCode::InvalidToken).into_response()
        });
        let declared = ErrorSet::of(&[ErrorCode::InvalidBlog]);
        let route = |methods| {
            versioned(
                axum::Router::new(),
                "/rest/x",
                ApiVersion::V1_3,
                None,
                "{}".into(),
                declared,
                methods,
            )
        };
        assert_eq!(call(route(marked), "/rest/x").await, 403);
        assert_eq!(call(route(other), "/rest/x").await, 500);
    }
}

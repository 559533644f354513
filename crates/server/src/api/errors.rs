//! `GET /rest/v1.3/jpphp/errors` — the error catalogue (SPEC §5), generated
//! from [`crate::domain::errors`], the same definitions handlers answer with.

use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Json;
use jpstart_types::params::ErrorsParams;
use jpstart_types::wire::{
    ErrorDoc, ErrorsListing, ErrorsResponse, OrderedMap, VerboseErrorsResponse,
};

use crate::app::state::AppState;
use crate::domain::errors::{ErrorCode, OAuthErrorCode};
use crate::rest::rejects::errors_of;
use crate::rest::{operation, ApiVersion, Endpoint, Help, Params, Rest};

/// `errors`: GET, and POST too (upstream answers both).
pub fn endpoints() -> Vec<Endpoint<AppState>> {
    vec![Endpoint {
        operations: vec![operation!(errors)],
        methods: |_| get(errors).post(errors),
        rest: Some(Rest {
            min: ApiVersion::V1_3,
            max: None,
            help: Help {
                description: "Every error code the API can answer with. No authentication.",
                versions: "1.3+",
                authentication: "none",
                parameters: &[(
                    "verbose",
                    "present (any value): description, cause and solution for each code",
                )],
                response: &[(
                    "errors",
                    "object: code -> description, or code -> {description, cause, solution}",
                )],
            },
            errors: errors_of(&errors),
        }),
    }]
}

/// Every catalogue entry: the REST codes, then the OAuth codes not already
/// listed (`invalid_scope` is both).
pub fn catalogue() -> Vec<(&'static str, ErrorDoc)> {
    let mut out: Vec<(&'static str, ErrorDoc)> = ErrorCode::ALL
        .iter()
        .map(|c| {
            (
                c.code(),
                ErrorDoc {
                    description: c.description().into(),
                    cause: c.cause().into(),
                    solution: c.solution().into(),
                },
            )
        })
        .collect();
    for c in OAuthErrorCode::ALL {
        if !out.iter().any(|(code, _)| *code == c.code()) {
            let (description, cause, solution) = c.doc();
            out.push((
                c.code(),
                ErrorDoc {
                    description: description.into(),
                    cause: cause.into(),
                    solution: solution.into(),
                },
            ));
        }
    }
    out
}

/// The brief form: as upstream, each REST code maps to its message template
/// (`%s` where the message names something); the OAuth codes, which have no
/// template, to their description.
pub fn brief() -> Vec<(&'static str, String)> {
    catalogue()
        .into_iter()
        .map(
            |(code, doc)| match ErrorCode::ALL.iter().find(|c| c.code() == code) {
                Some(c) => (code, c.template().to_string()),
                None => (code, doc.description),
            },
        )
        .collect()
}

#[utoipa::path(
    get,
    path = "/rest/v1.3/jpphp/errors",
    tag = "jpphp",
    params(("verbose" = Option<String>, Query, description = "Present (any value): each code maps to {description, cause, solution} instead of its message template.")),
    responses((status = 200, description = "The catalogue: ErrorsResponse, or with `verbose` VerboseErrorsResponse.", body = ErrorsListing)),
)]
pub async fn errors(Params(p): Params<ErrorsParams>) -> Response {
    if p.verbose.is_some() {
        let errors = OrderedMap(
            catalogue()
                .into_iter()
                .map(|(c, d)| (c.to_string(), d))
                .collect(),
        );
        Json(ErrorsListing::Verbose(VerboseErrorsResponse { errors })).into_response()
    } else {
        let errors = OrderedMap(
            brief()
                .into_iter()
                .map(|(c, m)| (c.to_string(), m))
                .collect(),
        );
        Json(ErrorsListing::Plain(ErrorsResponse { errors })).into_response()
    }
}

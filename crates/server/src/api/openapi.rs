//! `GET /openapi.json`: an OpenAPI 3.1 description of the whole API,
//! generated from the code.
//!
//! Each handler carries a `#[utoipa::path]` with its path, parameters, body
//! formats and success response; the wire types derive their schemas in
//! `jpstart_types` (feature `openapi`). The document is assembled from the
//! same [`Endpoint`] declarations the router is built from
//! ([`super::endpoints`]), so it cannot list an endpoint the router lacks.
//! Error responses are not written by hand: each REST operation gets the
//! endpoint's derived error list ([`Endpoint::errors`], the one its `/help`
//! serves), one response per status whose `error` is an enum of the codes.
//! Each REST path also gets its `/help` path, and the document the bearer
//! security scheme.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use axum::http::header;
use axum::response::{IntoResponse, Response};
use jpstart_types::wire::ErrorBody;
use utoipa::openapi::path::{
    HttpMethod, Operation, OperationBuilder, Parameter, ParameterIn, PathItem,
};
use utoipa::openapi::request_body::RequestBody;
use utoipa::openapi::response::{Response as OaResponse, ResponseBuilder};
use utoipa::openapi::schema::{AllOfBuilder, ObjectBuilder, Schema, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Content, OpenApi as Document, Ref, RefOr, Required};
use utoipa::OpenApi;

use crate::app::state::AppState;
use crate::domain::ErrorCode;
use crate::rest::rejects::ErrorSet;
use crate::rest::{operation, Endpoint};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "jpstart",
        description = "The Jetpack Start partner provisioning API as served by jpstart, \
            wire-compatible with WordPress.com's. REST paths are shown at the version partners \
            call; every endpoint also answers later versions (`/rest/v{major.minor}/...`). \
            Any endpoint also takes `http_envelope`, `pretty` and `fields` query parameters \
            and answers OPTIONS; see docs/COMPATIBILITY.md.",
        license(name = "MIT OR Apache-2.0"),
    ),
    components(schemas(ErrorBody))
)]
struct ApiDoc;

/// `GET /openapi.json`.
pub fn endpoints() -> Vec<Endpoint<AppState>> {
    vec![Endpoint::plain(operation!(openapi_json), |_| {
        axum::routing::get(openapi_json)
    })]
}

/// The document, built once.
pub fn document() -> &'static Document {
    static DOC: OnceLock<Document> = OnceLock::new();
    DOC.get_or_init(build)
}

/// Every endpoint's operations, REST ones with their errors and `/help`.
fn build() -> Document {
    let mut doc = ApiDoc::openapi();
    for endpoint in super::endpoints() {
        let (primary, _) = endpoint.documented();
        for operation in &endpoint.operations {
            let mut part = operation();
            if let Some(errors) = endpoint.errors() {
                add_rest(&mut part, errors, &primary);
            }
            doc.merge(part);
        }
    }
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "bearer",
        SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
    );
    // Every parameter may come in the query string instead, so no body is
    // required.
    for item in doc.paths.paths.values_mut() {
        for op in operations(item) {
            if let Some(body) = op.request_body.as_mut() {
                body.required = Some(Required::False);
            }
        }
    }
    doc
}

/// The endpoint's errors on each operation of `part`, and the `/help` of
/// each of its paths (documenting the endpoint at `primary`).
fn add_rest(part: &mut Document, errors: ErrorSet, primary: &str) {
    let mut helps = BTreeMap::new();
    for (path, item) in part.paths.paths.iter_mut() {
        let mut path_params = Vec::new();
        for op in operations(item) {
            add_errors(op, errors);
            for p in op.parameters.iter().flatten() {
                if p.parameter_in == ParameterIn::Path && !path_params.contains(p) {
                    path_params.push(p.clone());
                }
            }
        }
        helps.insert(format!("{path}/help"), help_item(primary, path_params));
    }
    part.paths.paths.extend(helps);
}

/// `GET /openapi.json`.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "meta",
    responses((status = 200, description = "This document.", content_type = "application/json")),
)]
pub async fn openapi_json() -> Response {
    static TEXT: OnceLock<String> = OnceLock::new();
    let text = TEXT.get_or_init(|| serde_json::to_string(document()).unwrap_or_default());
    ([(header::CONTENT_TYPE, "application/json")], text.as_str()).into_response()
}

fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        item.get.as_mut(),
        item.post.as_mut(),
        item.put.as_mut(),
        item.delete.as_mut(),
    ]
    .into_iter()
    .flatten()
}

/// One response per status, listing the endpoint's codes of that status.
fn add_errors(op: &mut Operation, errors: ErrorSet) {
    let mut by_status: BTreeMap<u16, Vec<ErrorCode>> = BTreeMap::new();
    for code in errors.codes() {
        by_status.entry(code.status()).or_default().push(code);
    }
    for (status, codes) in by_status {
        op.responses
            .responses
            .insert(status.to_string(), error_response(&codes).into());
    }
}

/// The error body with `error` and `error_code` narrowed to `codes`.
fn error_response(codes: &[ErrorCode]) -> OaResponse {
    let names: Vec<&str> = codes.iter().map(|c| c.code()).collect();
    let narrowed = || {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(names.clone()))
    };
    let schema = AllOfBuilder::new()
        .item(Ref::from_schema_name("ErrorBody"))
        .item(
            ObjectBuilder::new()
                .property("error", narrowed())
                .property("error_code", narrowed()),
        );
    let description = codes
        .iter()
        .map(|c| format!("`{}`: {}", c.code(), c.template()))
        .collect::<Vec<_>>()
        .join("\n\n");
    ResponseBuilder::new()
        .description(description)
        .content("application/json", Content::new(Some(schema)))
        .build()
}

/// `GET {path}/help`: the endpoint's own documentation.
fn help_item(primary: &str, path_params: Vec<Parameter>) -> PathItem {
    let body = ObjectBuilder::new()
        .property("method", ObjectBuilder::new().schema_type(Type::String))
        .property("path", ObjectBuilder::new().schema_type(Type::String))
        .property(
            "description",
            ObjectBuilder::new().schema_type(Type::String),
        )
        .property("versions", ObjectBuilder::new().schema_type(Type::String))
        .property(
            "authentication",
            ObjectBuilder::new().schema_type(Type::String),
        )
        .property("parameters", ObjectBuilder::new().schema_type(Type::Array))
        .property("response", ObjectBuilder::new().schema_type(Type::Array))
        .property("errors", ObjectBuilder::new().schema_type(Type::Array));
    let ok = ResponseBuilder::new()
        .description("The endpoint's documentation.")
        .content(
            "application/json",
            Content::new(Some(RefOr::T(Schema::Object(body.build())))),
        )
        .build();
    let op = OperationBuilder::new()
        .tag("help")
        .summary(Some(format!("Documentation of {primary}")))
        .response("200", ok)
        .request_body(None::<RequestBody>)
        .parameters((!path_params.is_empty()).then_some(path_params))
        .build();
    PathItem::new(HttpMethod::Get, op)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rest::routes::unversioned;

    /// Every declared endpoint has its operations in the document, and a
    /// REST one its `/help` too.
    #[test]
    fn every_route_is_documented() {
        let doc = document();
        for e in super::super::endpoints() {
            let (path, _) = e.documented();
            assert!(doc.paths.paths.contains_key(&path), "{path}");
            if e.rest.is_some() {
                let help = format!("{path}/help");
                assert!(doc.paths.paths.contains_key(&help), "{help}");
                assert_eq!(unversioned(&path), Some(e.route_path()));
            }
        }
        for path in ["/oauth2/token", "/authorize/{token}", "/openapi.json"] {
            assert!(doc.paths.paths.contains_key(path), "{path}");
        }
    }

    /// The codes of an operation's error responses, by status.
    fn listed(op: &Operation) -> Vec<(u16, String)> {
        let text = serde_json::to_value(&op.responses).unwrap_or_default();
        let mut out = Vec::new();
        for (status, response) in text.as_object().into_iter().flatten() {
            let Ok(status) = status.parse::<u16>() else {
                continue;
            };
            let schema = &response["content"]["application/json"]["schema"];
            for code in schema["allOf"][1]["properties"]["error"]["enum"]
                .as_array()
                .into_iter()
                .flatten()
            {
                out.push((status, code.as_str().unwrap_or_default().to_string()));
            }
        }
        out.sort();
        out
    }

    /// The acceptance check of the derived lists: for every REST endpoint,
    /// every code its handler can answer (its extractors' rejections, its
    /// own refusals, and what the layers answer everywhere) is what its
    /// `/help` and each of its OpenAPI operations list, at its status.
    #[test]
    fn help_and_openapi_list_every_code_an_endpoint_answers() {
        let doc = document();
        let mut checked = 0;
        for e in super::super::endpoints() {
            let Some(errors) = e.errors() else { continue };
            let help = e.help().expect("a REST endpoint has help");
            let want: Vec<ErrorCode> = errors.codes().collect();
            assert_eq!(help.errors, want, "{}", help.path);
            for code in crate::rest::rejects::EVERYWHERE.codes() {
                assert!(errors.contains(code), "{}: {code}", help.path);
            }
            let mut by_status: Vec<(u16, String)> = want
                .iter()
                .map(|c| (c.status(), c.code().to_string()))
                .collect();
            by_status.sort();
            for op in &e.operations {
                for path in op().paths.paths.into_keys() {
                    let item = &doc.paths.paths[&path];
                    for op in [&item.get, &item.post].into_iter().flatten() {
                        assert_eq!(listed(op), by_status, "{path}");
                        checked += 1;
                    }
                }
            }
        }
        assert!(checked >= 11, "{checked} operations");
    }
}

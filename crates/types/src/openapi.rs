//! OpenAPI schemas (feature `openapi`) for the types whose serde impls are
//! hand-written, so the derive cannot see their wire shape.

use std::borrow::Cow;

use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, Schema, SchemaFormat, Type};
use utoipa::openapi::{KnownFormat, RefOr};
use utoipa::{PartialSchema, ToSchema};

use crate::params::PartnerKeyNewParams;
use crate::wire::PartnerKeyCreated;
use crate::{SecretString, Truthy};

fn string(description: &str) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(description))
}

impl PartialSchema for Truthy {
    fn schema() -> RefOr<Schema> {
        string("A boolean parameter: `1`, `t`, `true` (any case) are true; anything else, absence included, is false.")
            .examples(["1"])
            .into()
    }
}
impl ToSchema for Truthy {}

impl PartialSchema for SecretString {
    fn schema() -> RefOr<Schema> {
        string("A secret; never echoed back.")
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Password)))
            .into()
    }
}
impl ToSchema for SecretString {}

/// `allowed_{slug}_plans` keys are open-ended, so they are additional
/// properties of string type.
fn limits() -> AdditionalProperties<Schema> {
    AdditionalProperties::RefOr(
        string("`allowed_{slug}_plans`: live activations of product {slug} the key may hold (a whole number)").into(),
    )
}

impl PartialSchema for PartnerKeyNewParams {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .property("name", string("The new key's name (required)."))
            .additional_properties(Some(limits()))
            .into()
    }
}
impl ToSchema for PartnerKeyNewParams {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("PartnerKeyNewParams")
    }
}

impl PartialSchema for PartnerKeyCreated {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .property(
                "id",
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64))),
            )
            .required("id")
            .property("name", string("The name given."))
            .required("name")
            .property(
                "notes",
                ObjectBuilder::new()
                    .schema_type(Type::Null)
                    .description(Some("Always null.")),
            )
            .required("notes")
            .property("client_id", string("The OAuth2 client id."))
            .required("client_id")
            .property(
                "client_secret",
                string("The OAuth2 client secret: shown only in this response."),
            )
            .required("client_secret")
            .additional_properties(Some(limits()))
            .into()
    }
}
impl ToSchema for PartnerKeyCreated {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("PartnerKeyCreated")
    }
}

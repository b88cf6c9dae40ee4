//! SCIM discovery (RFC 7644 §4): what Sluice supports, with no token needed.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;
use sluice_core::scim::{GROUP_SCHEMA, LIST_SCHEMA, MAX_RESULTS, USER_SCHEMA};

use super::scim_json;

pub(super) async fn service_provider_config() -> Response {
    let no = json!({"supported": false});
    scim_json(
        StatusCode::OK,
        &json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
            "documentationUri": "https://github.com/sluice/sluice/blob/main/docs/scim.md",
            "patch": {"supported": true},
            "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
            "filter": {"supported": true, "maxResults": MAX_RESULTS},
            "changePassword": no,
            "sort": no,
            "etag": no,
            "authenticationSchemes": [{
                "type": "oauthbearertoken",
                "name": "OAuth Bearer Token",
                "description": "A SCIM token from POST /admin/idps/{id}/scim-tokens",
                "primary": true,
            }],
        }),
    )
}

pub(super) async fn resource_types() -> Response {
    let list = [
        ("User", "/Users", USER_SCHEMA),
        ("Group", "/Groups", GROUP_SCHEMA),
    ]
    .map(|(name, endpoint, schema)| {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
            "id": name, "name": name, "endpoint": endpoint, "schema": schema,
            "meta": {"resourceType": "ResourceType"},
        })
    });
    scim_json(
        StatusCode::OK,
        &json!({"schemas": [LIST_SCHEMA], "totalResults": 2, "startIndex": 1, "itemsPerPage": 2, "Resources": list}),
    )
}

pub(super) async fn schemas() -> Response {
    let attr = |name: &str, kind: &str, required: bool| {
        json!({"name": name, "type": kind, "multiValued": false, "required": required,
               "mutability": "readWrite", "returned": "default", "uniqueness": "none"})
    };
    let user = json!({
        "id": USER_SCHEMA, "name": "User",
        "attributes": [
            attr("userName", "string", true), attr("externalId", "string", false),
            attr("displayName", "string", false), attr("active", "boolean", false),
            {"name": "name", "type": "complex", "multiValued": false, "required": false,
             "subAttributes": [attr("givenName", "string", false), attr("familyName", "string", false)]},
            {"name": "emails", "type": "complex", "multiValued": true, "required": false,
             "subAttributes": [attr("value", "string", false), attr("primary", "boolean", false)]},
        ],
    });
    let group = json!({
        "id": GROUP_SCHEMA, "name": "Group",
        "attributes": [
            attr("displayName", "string", true), attr("externalId", "string", false),
            {"name": "members", "type": "complex", "multiValued": true, "required": false,
             "subAttributes": [attr("value", "string", false), attr("display", "string", false)]},
        ],
    });
    scim_json(
        StatusCode::OK,
        &json!({"schemas": [LIST_SCHEMA], "totalResults": 2, "startIndex": 1, "itemsPerPage": 2, "Resources": [user, group]}),
    )
}

//! The table itself, as `template.yaml` declares it; for tests (moto) and local setups.

use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::client::Waiters;
use aws_sdk_dynamodb::operation::create_table::CreateTableError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, StreamSpecification, StreamViewType,
    TimeToLiveSpecification,
};
use sluice_core::store::StoreError;

use super::error::{invalid_request, unavailable, unavailable_while};
use super::layout;
use super::store::DynamoStore;

/// Real DynamoDB takes seconds to a minute to make a table ACTIVE; moto does it at once.
const ACTIVE_TIMEOUT: Duration = Duration::from_secs(300);

fn string_attribute(name: &str) -> Result<AttributeDefinition, StoreError> {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .map_err(|e| invalid_request(&e))
}

fn key_element(name: &str, key_type: KeyType) -> Result<KeySchemaElement, StoreError> {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(key_type)
        .build()
        .map_err(|e| invalid_request(&e))
}

impl DynamoStore {
    /// Creates `table` with the layout's keys and index, on-demand billing, a `NEW_IMAGE` stream and TTL
    /// on `expires_at`, and waits until it is ACTIVE.
    ///
    /// # Errors
    /// `AlreadyExists` if the table exists; `Unavailable` for any other failure.
    pub async fn create_table(client: &Client, table: &str) -> Result<(), StoreError> {
        let gsi1 = GlobalSecondaryIndex::builder()
            .index_name(layout::GSI1)
            .key_schema(key_element(layout::GSI1PK, KeyType::Hash)?)
            .key_schema(key_element(layout::GSI1SK, KeyType::Range)?)
            .projection(
                Projection::builder()
                    .projection_type(ProjectionType::All)
                    .build(),
            )
            .build()
            .map_err(|e| invalid_request(&e))?;
        let stream = StreamSpecification::builder()
            .stream_enabled(true)
            .stream_view_type(StreamViewType::NewImage)
            .build()
            .map_err(|e| invalid_request(&e))?;
        let created = client
            .create_table()
            .table_name(table)
            .attribute_definitions(string_attribute(layout::PK)?)
            .attribute_definitions(string_attribute(layout::SK)?)
            .attribute_definitions(string_attribute(layout::GSI1PK)?)
            .attribute_definitions(string_attribute(layout::GSI1SK)?)
            .key_schema(key_element(layout::PK, KeyType::Hash)?)
            .key_schema(key_element(layout::SK, KeyType::Range)?)
            .global_secondary_indexes(gsi1)
            .billing_mode(BillingMode::PayPerRequest)
            .stream_specification(stream)
            .send()
            .await;
        match created {
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.as_service_error(),
                    Some(CreateTableError::ResourceInUseException(_))
                ) =>
            {
                return Err(StoreError::AlreadyExists(format!("table {table}")));
            }
            Err(e) => return Err(unavailable("CreateTable", e)),
        }

        // TTL cannot be part of CreateTable, and UpdateTimeToLive fails while the table is CREATING.
        client
            .wait_until_table_exists()
            .table_name(table)
            .wait(ACTIVE_TIMEOUT)
            .await
            .map_err(|e| unavailable_while("DescribeTable (waiting for ACTIVE)", e))?;
        let ttl = TimeToLiveSpecification::builder()
            .enabled(true)
            .attribute_name(layout::EXPIRES_AT)
            .build()
            .map_err(|e| invalid_request(&e))?;
        client
            .update_time_to_live()
            .table_name(table)
            .time_to_live_specification(ttl)
            .send()
            .await
            .map_err(|e| unavailable("UpdateTimeToLive", e))?;
        tracing::info!(table, "created DynamoDB table");
        Ok(())
    }
}

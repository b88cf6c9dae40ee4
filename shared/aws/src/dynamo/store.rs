//! `DynamoStore`: the handle every store port is implemented on.

use aws_sdk_dynamodb::Client;

/// The DynamoDB store on one table. Cheap to clone (the SDK client is reference-counted).
#[derive(Clone, Debug)]
pub struct DynamoStore {
    pub(crate) client: Client,
    pub(crate) table: String,
}

impl DynamoStore {
    /// A store on an existing table, laid out as in `layout` (see `create_table`).
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    #[must_use]
    pub fn table(&self) -> &str {
        &self.table
    }
}

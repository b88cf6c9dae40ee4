//! `TeamStore` on DynamoDB: the team item and a name marker, created in one transaction.

use async_trait::async_trait;
use sluice_core::identity::Team;
use sluice_core::store::{StoreError, TeamStore};

use super::error::{corrupt, unavailable};
use super::layout::{self, MarkerItem, TeamItem};
use super::ops::{Item, condition_failed};
use super::store::DynamoStore;

const TEAM_WRITE: usize = 0;
const NAME_WRITE: usize = 1;

fn decode_team(item: Item) -> Result<Team, StoreError> {
    let stored: TeamItem = serde_dynamo::from_item(item).map_err(|e| corrupt("team item", &e))?;
    stored.into_team().map_err(StoreError::Corrupt)
}

#[async_trait]
impl TeamStore for DynamoStore {
    async fn create_team(&self, team: &Team) -> Result<(), StoreError> {
        self.client
            .transact_write_items()
            .transact_items(self.put_if_new(TeamItem::from(team), "team")?)
            .transact_items(self.put_if_new(MarkerItem::team_name(team), "team name")?)
            .send()
            .await
            .map_err(|e| {
                if condition_failed(&e, TEAM_WRITE) {
                    StoreError::AlreadyExists(format!("team {}", team.id))
                } else if condition_failed(&e, NAME_WRITE) {
                    StoreError::AlreadyExists(format!("a team named {}", team.name))
                } else {
                    unavailable("TransactWriteItems", &e)
                }
            })?;
        Ok(())
    }

    async fn team_by_id(&self, id: &str) -> Result<Option<Team>, StoreError> {
        self.get_consistent(layout::team_item_key(id))
            .await?
            .map(decode_team)
            .transpose()
    }

    async fn list_teams(&self) -> Result<Vec<Team>, StoreError> {
        self.list_family(layout::TEAMS_GSI1PK)
            .await?
            .into_iter()
            .map(decode_team)
            .collect()
    }
}

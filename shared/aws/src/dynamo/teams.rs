//! `TeamStore` on DynamoDB: the team item and a name marker, created and deleted together in one transaction,
//! so a deleted team frees its name.

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
    stored.into_team().map_err(StoreError::from)
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
                    unavailable("TransactWriteItems", e)
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

    async fn delete_team(&self, id: &str) -> Result<bool, StoreError> {
        let Some(stored) = self.team_by_id(id).await? else {
            return Ok(false);
        };
        let deleted = self
            .client
            .transact_write_items()
            .transact_items(self.delete_where(layout::team_item_key(id), layout::EXISTS, None)?)
            .transact_items(self.delete_where(
                layout::team_name_item_key(&stored.name),
                layout::MARKER_OF,
                Some(id),
            )?)
            .send()
            .await;
        match deleted {
            Ok(_) => Ok(true),
            Err(e) if condition_failed(&e, TEAM_WRITE) => Ok(false),
            Err(e) if condition_failed(&e, NAME_WRITE) => Err(StoreError::Corrupt(format!(
                "team {id} does not own the marker of its name {}",
                stored.name
            ))),
            Err(e) => Err(unavailable("TransactWriteItems", e)),
        }
    }
}

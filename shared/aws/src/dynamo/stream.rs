//! DynamoDB Streams records as the stream consumers (`functions/spend`, `functions/notify`) read them: an
//! INSERT's new image of one item type, decoded; anything else named, so the consumer can skip it or fail
//! only that record.

use serde_dynamo::{AttributeValue, Item};

use super::layout::ITEM_TYPE;

/// What one stream record holds for a consumer of one item type.
#[derive(Debug)]
pub enum StreamItem<T> {
    /// Not an INSERT (the event name).
    NotInsert(String),
    /// An item of another type (its `item_type`, if it has one).
    OtherType(Option<String>),
    /// The item type wanted, but the image does not decode; retrying will not help.
    Poison {
        pk: Option<String>,
        reason: String,
    },
    Wanted(Box<T>),
}

/// Classifies one record: `event_name` and `new_image` of the stream record, the `item_type` wanted, and its
/// decoder.
pub fn classify<T, E: std::fmt::Display>(
    event_name: &str,
    image: Item,
    item_type: &str,
    decode: impl FnOnce(Item) -> Result<T, E>,
) -> StreamItem<T> {
    if event_name != "INSERT" {
        return StreamItem::NotInsert(event_name.to_owned());
    }
    if image.is_empty() {
        // A KEYS_ONLY or OLD_IMAGE stream: nothing to consume, and nothing ever will be. Loud, once per record.
        tracing::warn!(
            "INSERT without a new image: the table's StreamViewType must be NEW_IMAGE or NEW_AND_OLD_IMAGES"
        );
    }
    match image.get(ITEM_TYPE) {
        Some(AttributeValue::S(t)) if t == item_type => {}
        Some(AttributeValue::S(t)) => return StreamItem::OtherType(Some(t.clone())),
        other => return StreamItem::OtherType(other.map(|v| format!("{v:?}"))),
    }
    let pk = match image.get("pk") {
        Some(AttributeValue::S(pk)) => Some(pk.clone()),
        _ => None,
    };
    match decode(image) {
        Ok(item) => StreamItem::Wanted(Box::new(item)),
        Err(reason) => StreamItem::Poison {
            pk,
            reason: reason.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(pairs: &[(&str, &str)]) -> Item {
        let map: std::collections::HashMap<String, AttributeValue> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), AttributeValue::S((*v).to_owned())))
            .collect();
        Item::from(map)
    }

    #[expect(
        clippy::needless_pass_by_value,
        reason = "the decoder signature classify takes"
    )]
    fn decode(item: Item) -> Result<String, String> {
        match item.get("v") {
            Some(AttributeValue::S(v)) => Ok(v.clone()),
            _ => Err("no v".into()),
        }
    }

    #[test]
    fn only_inserts_of_the_wanted_type_are_decoded() {
        let wanted = image(&[("item_type", "usage"), ("pk", "USAGE#r1"), ("v", "ok")]);
        assert!(matches!(
            classify("INSERT", wanted.clone(), "usage", decode),
            StreamItem::Wanted(v) if *v == "ok"
        ));
        assert!(matches!(
            classify("MODIFY", wanted, "usage", decode),
            StreamItem::NotInsert(n) if n == "MODIFY"
        ));
        assert!(matches!(
            classify("INSERT", image(&[("item_type", "key")]), "usage", decode),
            StreamItem::OtherType(Some(t)) if t == "key"
        ));
        assert!(matches!(
            classify("INSERT", image(&[]), "usage", decode),
            StreamItem::OtherType(None)
        ));
        assert!(matches!(
            classify("INSERT", image(&[("item_type", "usage"), ("pk", "USAGE#bad")]), "usage", decode),
            StreamItem::Poison { pk: Some(pk), reason } if pk == "USAGE#bad" && reason == "no v"
        ));
    }
}

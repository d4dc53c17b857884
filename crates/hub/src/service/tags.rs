//! Server tags (`rack-a`, `prod`, `family`): free labels for grouping and filtering the fleet.
//! Not in v1, so they are not part of the v1 `ServerResponse`; they have their own endpoints.
//!
//! Tags are a store table read whole once per fleet page, which keeps the fleet overview at one
//! extra query however many machines there are.

use homelab_core::validate::{FieldError, ValidationErrors};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::ServiceResult;
use crate::state::AppState;

/// At most this many tags per server: tags are for grouping, not for notes.
pub const MAX_TAGS: usize = 16;
/// At most this many characters per tag.
pub const MAX_TAG_LEN: usize = 32;

pub use homelab_store::TagMap;

/// Every server's tags (servers without tags are absent), in one read.
pub async fn load_all(state: &AppState) -> ServiceResult<TagMap> {
    Ok(state.store.all_server_tags().await?)
}

/// Whether `tag` is a lower-case label: letters, digits, `-`, `_`, `.` and `:`, starting with a
/// letter or digit (so it reads well in a URL and in a filter box).
pub fn is_tag(tag: &str) -> bool {
    let mut bytes = tag.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.:".contains(&b))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ServerTags {
    pub server_id: String,
    /// Sorted, without duplicates.
    pub tags: Vec<String>,
}

/// `PUT /servers/{id}/tags` body: the complete new list (an empty list removes all tags).
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct TagsBody {
    /// At most 16 tags of 1–32 lower-case letters, digits, `-`, `_`, `.` or `:`, each starting
    /// with a letter or digit (duplicates count once; the document gives each item's pattern).
    pub tags: Vec<String>,
}

/// [`is_tag`] and [`MAX_TAG_LEN`] as a pattern, for the document.
pub const TAG_PATTERN: &str = "^[a-z0-9][a-z0-9._:-]{0,31}$";

impl TagsBody {
    /// Checks every tag and returns them sorted without duplicates.
    pub fn validate(&self) -> Result<Vec<String>, ValidationErrors> {
        let mut errors = Vec::new();
        let mut tags: Vec<String> = self.tags.clone();
        tags.sort();
        tags.dedup();
        if tags.len() > MAX_TAGS {
            errors.push(FieldError::new(
                "too_long",
                vec!["body".into(), "tags".into()],
                &format!("should have at most {MAX_TAGS} tags, not {}", tags.len()),
                serde_json::Value::Null,
            ));
        }
        for (index, tag) in self.tags.iter().enumerate() {
            if tag.chars().count() > MAX_TAG_LEN || !is_tag(tag) {
                errors.push(FieldError::new(
                    "string_pattern_mismatch",
                    vec!["body".into(), "tags".into(), index.into()],
                    &format!(
                        "“{tag}” is not a tag: use 1–{MAX_TAG_LEN} lower-case letters, digits, '-', '_', '.' or ':', \
                         starting with a letter or digit"
                    ),
                    tag.as_str().into(),
                ));
            }
        }
        if !errors.is_empty() {
            return Err(ValidationErrors(errors));
        }
        Ok(tags)
    }
}

/// Tags of one server.
pub async fn of_server(state: &AppState, id: &str) -> ServiceResult<ServerTags> {
    let tags = state.store.server_tags(id).await?;
    Ok(ServerTags { server_id: id.to_owned(), tags })
}

/// Replaces the tags of one server (an empty list removes them all).
pub async fn replace(state: &AppState, id: &str, body: &TagsBody) -> ServiceResult<ServerTags> {
    let tags = state.store.set_server_tags(id, &body.validate()?).await?;
    state.web.server_changed(id, false);
    Ok(ServerTags { server_id: id.to_owned(), tags })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_lower_case_labels() {
        for good in ["prod", "rack-a", "k8s.node", "zone:eu", "2nd_floor"] {
            assert!(is_tag(good), "{good}");
        }
        for bad in ["", "Prod", "-x", "has space", "ünï"] {
            assert!(!is_tag(bad), "{bad}");
        }
    }

    #[test]
    fn validation_sorts_dedups_and_names_the_bad_tag() {
        let body = TagsBody { tags: vec!["b".into(), "a".into(), "b".into()] };
        assert_eq!(body.validate().unwrap(), ["a", "b"]);
        let body = TagsBody { tags: vec!["ok".into(), "Not OK".into()] };
        let errors = body.validate().unwrap_err();
        assert_eq!(errors.0.len(), 1);
        assert!(errors.0[0].msg.starts_with("tags[1]: “Not OK” is not a tag"), "{}", errors.0[0].msg);
    }
}

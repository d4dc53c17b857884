//! The original web UI's dashboard layout (`/api/v1/preferences/dashboard`): card order per
//! section, collapsed sections and view mode. Kept so that UI works against this hub; our own
//! dashboard does not read it.

use serde::{Deserialize, Serialize};

use crate::validate::{ValidationErrors, Validator};

/// Card order per dashboard section, as server ids.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CardOrder {
    /// Server ids in the servers section, in display order.
    #[serde(default)]
    pub servers: Vec<String>,
    /// Server ids in the workstations section, in display order.
    #[serde(default)]
    pub workstations: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DashboardPreferences {
    /// Card order per section.
    #[serde(default)]
    pub card_order: CardOrder,
    /// Names of the collapsed sections.
    #[serde(default)]
    pub collapsed_sections: Vec<String>,
    /// The UI's view mode (`grid` or `list`), at most 20 characters.
    #[serde(default = "default_view_mode")]
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 20))]
    pub view_mode: String,
}

fn default_view_mode() -> String {
    "grid".into()
}

impl Default for DashboardPreferences {
    fn default() -> Self {
        DashboardPreferences {
            card_order: CardOrder::default(),
            collapsed_sections: Vec::new(),
            view_mode: default_view_mode(),
        }
    }
}

/// Enough for any homelab, small enough that a stray client cannot fill the database.
pub const MAX_ENTRIES: usize = 1000;

impl DashboardPreferences {
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        let mut v = Validator::new("body");
        let list = |v: &mut Validator, field: &str, items: &[String], max_len: usize| {
            if items.len() > MAX_ENTRIES {
                v.custom(field, "too_long", &format!("should have at most {MAX_ENTRIES} items"), items.len().into());
            }
            for (i, item) in items.iter().enumerate() {
                if item.chars().count() > max_len {
                    let detail = format!("item {i} should have at most {max_len} characters");
                    v.custom(field, "string_length", &detail, item.as_str().into());
                }
            }
        };
        v.at("card_order", |v| {
            list(v, "servers", &self.card_order.servers, 100);
            list(v, "workstations", &self.card_order.workstations, 100);
        });
        list(&mut v, "collapsed_sections", &self.collapsed_sections, 100);
        v.str_len("view_mode", &self.view_mode, 1, 20);
        v.finish()
    }
}

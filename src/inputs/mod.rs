//! Inputs: what the studies read (datasets, weights, reference tables),
//! as pinned in `data-manifest.toml`, where they live, and checking them.

mod catalogue;
mod fetch;
mod generated;
mod roots;
mod timm_weights;
mod verify;

pub use catalogue::{relative_path, Catalogue, Expected, Input, InputKind, Location, PypiSource};
pub use fetch::{fetch, pin_folder, upsert_input, FetchOptions};
pub use generated::Generator;
pub use roots::Roots;
pub use timm_weights::{fetch_timm, input_name as timm_input, TimmSource, PREFIX as TIMM_PREFIX};
pub use verify::{verify_input, InputStatus, InputVerdict};

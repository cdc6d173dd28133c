//! Storage engine tests: the partition log on the real disk under the
//! project's `tmp/` (tmpfs has no O_DIRECT), run on an inline glommio
//! executor; and topic creation on the shards' own code over that storage.

mod common;

mod faults;
mod free_space;
mod log_basics;
mod model;
mod preallocation;
mod producers;
mod recovery;
mod topic_create;

//! File-system calls that block (`fsync` of the topic map, removing a
//! deleted topic's directories) run on glommio's blocking thread pool, so
//! that a reactor that also serves data is never stalled by them. Only
//! admin work goes through here; the data path uses DMA files.

use std::path::PathBuf;

use crate::topics::store;
use crate::topics::{TopicIds, TopicMap};

/// [`store::save`] on the blocking pool.
pub async fn save_topic_map(
    data_dir: PathBuf,
    map: TopicMap,
    ids: TopicIds,
) -> std::io::Result<()> {
    glommio::executor()
        .spawn_blocking(move || store::save(&data_dir, &map, ids))
        .await
}

/// Removes `dir` and everything under it, on the blocking pool; a
/// directory that is already gone is not an error.
pub async fn remove_dir_all(dir: PathBuf) -> std::io::Result<()> {
    glommio::executor()
        .spawn_blocking(move || match std::fs::remove_dir_all(&dir) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            done => done,
        })
        .await
}

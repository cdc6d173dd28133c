//! Many partitions' opens and closes on one core at once, a bounded number
//! in flight: each waits mostly on `fsync`s, which the kernel runs on its
//! worker threads and the block layer merges, so thousands of partitions
//! start and stop in the time of a few rounds of them instead of one after
//! another.

use std::future::Future;
use std::rc::Rc;

use glommio::sync::Semaphore;

/// Runs `work(item)` for every item, at most `limit` at once, on this
/// executor; the results come back in the items' order.
pub async fn for_each_bounded<T, R, F, Fut>(items: Vec<T>, limit: usize, work: F) -> Vec<R>
where
    F: Fn(T) -> Fut,
    Fut: Future<Output = R> + 'static,
    R: 'static,
{
    let slots = Rc::new(Semaphore::new(limit.max(1) as u64));
    let mut tasks = Vec::with_capacity(items.len());
    for item in items {
        let slot = slots
            .acquire_static_permit(1)
            .await
            .expect("the semaphore is never closed");
        let job = work(item);
        tasks.push(glommio::spawn_local(async move {
            let result = job.await;
            drop(slot);
            result
        }));
    }
    let mut results = Vec::with_capacity(tasks.len());
    for task in tasks {
        results.push(task.await);
    }
    results
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    #[test]
    fn results_keep_their_order_and_the_limit_holds() {
        glommio::LocalExecutor::default().run(async {
            let running = Rc::new(Cell::new(0usize));
            let peak = Rc::new(Cell::new(0usize));
            let results = for_each_bounded((0..100u64).collect(), 7, |i| {
                let running = running.clone();
                let peak = peak.clone();
                async move {
                    running.set(running.get() + 1);
                    peak.set(peak.get().max(running.get()));
                    glommio::timer::sleep(std::time::Duration::from_micros(100 - i)).await;
                    running.set(running.get() - 1);
                    i * 2
                }
            })
            .await;
            assert_eq!(results, (0..100u64).map(|i| i * 2).collect::<Vec<_>>());
            assert_eq!(peak.get(), 7, "at most 7 at once, and 7 used");
        });
    }
}

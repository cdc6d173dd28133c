//! `WaiterSet`: the one way this crate keeps wakers of futures waiting for
//! an event on a single executor (data arriving at a partition, shutdown).
//!
//! Each waiting future owns a [`WaiterSlot`] with at most one registration,
//! replaced in place when the future is polled again and removed when the
//! slot (the future) is dropped. A list that grew by one waker on every
//! poll crashed a core: glommio counts task references in 16 bits, and an
//! idle consumer's long-polls re-register thousands of times a minute.
//!
//! Never shared across threads: `Rc` and `RefCell`, no locks.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::task::Waker;

/// Registrations keyed by slot; the keys are never reused while the set lives.
#[derive(Default)]
struct Registry {
    next_key: u64,
    /// One per waiting future; a map, so that thousands of consumers
    /// long-polling one partition register and leave in constant time.
    wakers: HashMap<u64, Waker>,
}

/// The wakers of futures waiting on one event source.
#[derive(Clone, Default)]
pub struct WaiterSet {
    registry: Rc<RefCell<Registry>>,
}

impl WaiterSet {
    pub fn new() -> WaiterSet {
        WaiterSet::default()
    }

    /// A slot for one waiting future; it registers nothing until polled.
    pub fn slot(&self) -> WaiterSlot {
        WaiterSlot {
            set: self.clone(),
            key: None,
        }
    }

    /// Wakes every registered future and forgets them: a woken future that
    /// must wait again registers again when it is polled.
    pub fn wake_all(&self) {
        let wakers = std::mem::take(&mut self.registry.borrow_mut().wakers);
        for waker in wakers.into_values() {
            waker.wake();
        }
    }

    /// Futures registered as waiting.
    pub fn len(&self) -> usize {
        self.registry.borrow().wakers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One future's place in a [`WaiterSet`]; dropping it withdraws the waker.
pub struct WaiterSlot {
    set: WaiterSet,
    key: Option<u64>,
}

impl WaiterSlot {
    /// Registers `waker` as this future's one waker, replacing the one it
    /// registered before (if it is still there: `wake_all` removes it).
    pub fn register(&mut self, waker: &Waker) {
        let mut registry = self.set.registry.borrow_mut();
        if let Some(key) = self.key {
            if let Some(held) = registry.wakers.get_mut(&key) {
                if !held.will_wake(waker) {
                    held.clone_from(waker);
                }
                return;
            }
        }
        let key = registry.next_key;
        registry.next_key += 1;
        registry.wakers.insert(key, waker.clone());
        self.key = Some(key);
    }
}

impl Drop for WaiterSlot {
    fn drop(&mut self) {
        if let Some(key) = self.key {
            self.set.registry.borrow_mut().wakers.remove(&key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::task::Wake;

    struct CountingWaker(AtomicUsize);

    impl Wake for CountingWaker {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn counting() -> (Arc<CountingWaker>, Waker) {
        let counter = Arc::new(CountingWaker(AtomicUsize::new(0)));
        let waker = Waker::from(counter.clone());
        (counter, waker)
    }

    #[test]
    fn polling_again_and_again_keeps_one_registration_per_future() {
        let set = WaiterSet::new();
        let (counter, waker) = counting();
        for _ in 0..100_000 {
            let mut slot = set.slot();
            for _ in 0..3 {
                slot.register(&waker);
            }
            assert_eq!(set.len(), 1);
        }
        assert!(set.is_empty(), "dropped futures wait no more");
        assert_eq!(Arc::strong_count(&counter), 2, "no waker clone left behind");
    }

    #[test]
    fn a_new_waker_replaces_the_old_one() {
        let set = WaiterSet::new();
        let (first, first_waker) = counting();
        let (second, second_waker) = counting();
        let mut slot = set.slot();
        slot.register(&first_waker);
        slot.register(&second_waker);
        assert_eq!(set.len(), 1);
        assert_eq!(Arc::strong_count(&first), 2, "the old waker was released");
        set.wake_all();
        assert_eq!(first.0.load(Ordering::Relaxed), 0);
        assert_eq!(second.0.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn wake_all_wakes_each_waiter_once_and_they_can_wait_again() {
        let set = WaiterSet::new();
        let (counter, waker) = counting();
        let mut slots: Vec<WaiterSlot> = (0..5).map(|_| set.slot()).collect();
        for slot in &mut slots {
            slot.register(&waker);
        }
        set.wake_all();
        assert_eq!(counter.0.load(Ordering::Relaxed), 5);
        assert!(set.is_empty());
        slots[0].register(&waker);
        assert_eq!(set.len(), 1, "a woken future registers anew");
        drop(slots);
        assert!(set.is_empty());
        assert_eq!(Arc::strong_count(&counter), 2);
    }
}

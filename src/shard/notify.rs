//! Small single-threaded wake-up primitives for one executor: a one-shot
//! broadcast (`Notify`, for shutdown) and `first_of`, which resolves when
//! any of several futures does (for long-poll fetches over partitions).

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use crate::waiters::{WaiterSet, WaiterSlot};

/// A flag that, once raised, wakes every waiter and stays raised.
///
/// Each waiting future holds one registration in a [`WaiterSet`], updated
/// in place when it is polled again and removed when it is dropped: a
/// connection waits on shutdown for as long as it lives.
#[derive(Default)]
pub struct Notify {
    raised: Cell<bool>,
    waiters: WaiterSet,
}

impl Notify {
    pub fn raise(&self) {
        self.raised.set(true);
        self.waiters.wake_all();
    }

    pub fn is_raised(&self) -> bool {
        self.raised.get()
    }

    /// Resolves once the flag is raised.
    pub fn wait(self: &Rc<Self>) -> NotifyWait {
        NotifyWait {
            notify: self.clone(),
            slot: self.waiters.slot(),
        }
    }

    /// Futures registered as waiting (for tests).
    pub fn waiter_count(&self) -> usize {
        self.waiters.len()
    }
}

pub struct NotifyWait {
    notify: Rc<Notify>,
    slot: WaiterSlot,
}

impl Future for NotifyWait {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.notify.raised.get() {
            return Poll::Ready(());
        }
        self.slot.register(cx.waker());
        Poll::Pending
    }
}

/// Sleeps `interval` on this executor's timer; `true` if `stop` is raised
/// first (the caller's periodic loop should end).
pub async fn sleep_unless_raised(stop: &Rc<Notify>, interval: std::time::Duration) -> bool {
    futures_lite::future::or(
        async {
            glommio::timer::sleep(interval).await;
            false
        },
        async {
            stop.wait().await;
            true
        },
    )
    .await
}

/// A boxed future on this executor.
pub type LocalFuture<T> = Pin<Box<dyn Future<Output = T>>>;

/// Resolves when the first of `futures` does (never, if there are none).
pub fn first_of(futures: Vec<LocalFuture<()>>) -> FirstOf {
    FirstOf(futures)
}

pub struct FirstOf(Vec<LocalFuture<()>>);

impl Future for FirstOf {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        for future in self.0.iter_mut() {
            if future.as_mut().poll(cx).is_ready() {
                return Poll::Ready(());
            }
        }
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::task::{Wake, Waker};

    struct CountingWaker(AtomicUsize);

    impl Wake for CountingWaker {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Found by the soak: every poll used to add a waker that stayed until
    /// shutdown, so a connection's reader task gained one reference per
    /// request, until glommio's 16-bit task reference count overflowed
    /// ("Waker invariant broken") after about 32 767 requests.
    #[test]
    fn waiting_again_and_again_keeps_one_registration_per_future() {
        let notify = Rc::new(Notify::default());
        let counter = Arc::new(CountingWaker(AtomicUsize::new(0)));
        let waker = Waker::from(counter.clone());
        let mut cx = Context::from_waker(&waker);
        for _ in 0..100_000 {
            let mut wait = notify.wait();
            for _ in 0..3 {
                assert!(Pin::new(&mut wait).poll(&mut cx).is_pending());
            }
            assert_eq!(notify.waiter_count(), 1);
        }
        assert_eq!(notify.waiter_count(), 0, "dropped futures wait no more");
        assert_eq!(Arc::strong_count(&counter), 2, "no waker clone left behind");

        let mut waiting = notify.wait();
        assert!(Pin::new(&mut waiting).poll(&mut cx).is_pending());
        notify.raise();
        assert_eq!(counter.0.load(Ordering::Relaxed), 1, "the waiter was woken");
        assert!(Pin::new(&mut waiting).poll(&mut cx).is_ready());
        assert!(
            Pin::new(&mut notify.wait()).poll(&mut cx).is_ready(),
            "stays raised"
        );
    }
}

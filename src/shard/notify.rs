//! Small single-threaded wake-up primitives for one executor: a one-shot
//! broadcast (`Notify`, for shutdown) and `first_of`, which resolves when
//! any of several futures does (for long-poll fetches over partitions).

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

/// A flag that, once raised, wakes every waiter and stays raised.
///
/// A waiter's waker is kept only while its [`NotifyWait`] lives: polling
/// again replaces it, dropping the future removes it. (Keeping every
/// waker ever registered would hold each waiting task's memory, and grow
/// by one entry per pending read of every connection.)
#[derive(Default)]
pub struct Notify {
    raised: Cell<bool>,
    waiters: RefCell<HashMap<u64, Waker>>,
    next_waiter: Cell<u64>,
}

impl Notify {
    pub fn raise(&self) {
        self.raised.set(true);
        let waiters = std::mem::take(&mut *self.waiters.borrow_mut());
        for (_, waker) in waiters {
            waker.wake();
        }
    }

    pub fn is_raised(&self) -> bool {
        self.raised.get()
    }

    /// Resolves once the flag is raised.
    pub fn wait(self: &Rc<Self>) -> NotifyWait {
        NotifyWait {
            notify: self.clone(),
            waiter: None,
        }
    }

    /// Wakers registered now: one per pending [`NotifyWait`].
    pub fn waiting(&self) -> usize {
        self.waiters.borrow().len()
    }
}

pub struct NotifyWait {
    notify: Rc<Notify>,
    /// This future's entry in `waiters`, once it has been polled.
    waiter: Option<u64>,
}

impl Future for NotifyWait {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.notify.raised.get() {
            return Poll::Ready(());
        }
        let id = match self.waiter {
            Some(id) => id,
            None => {
                let id = self.notify.next_waiter.get();
                self.notify.next_waiter.set(id + 1);
                self.waiter = Some(id);
                id
            }
        };
        let mut waiters = self.notify.waiters.borrow_mut();
        match waiters.get_mut(&id) {
            Some(waker) if waker.will_wake(cx.waker()) => {}
            Some(waker) => waker.clone_from(cx.waker()),
            None => {
                waiters.insert(id, cx.waker().clone());
            }
        }
        Poll::Pending
    }
}

impl Drop for NotifyWait {
    fn drop(&mut self) {
        if let Some(id) = self.waiter {
            self.notify.waiters.borrow_mut().remove(&id);
        }
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
    use std::task::Waker;

    fn poll_once(future: &mut NotifyWait) -> Poll<()> {
        let mut cx = Context::from_waker(Waker::noop());
        Pin::new(future).poll(&mut cx)
    }

    #[test]
    fn a_dropped_wait_leaves_no_waker_behind() {
        let notify = Rc::new(Notify::default());
        for _ in 0..1_000 {
            let mut wait = notify.wait();
            assert!(poll_once(&mut wait).is_pending());
            assert!(poll_once(&mut wait).is_pending(), "polled again");
            assert_eq!(notify.waiting(), 1, "one entry per live wait");
        }
        assert_eq!(notify.waiting(), 0);
    }

    #[test]
    fn raising_wakes_every_live_wait_once() {
        let notify = Rc::new(Notify::default());
        let mut waits: Vec<NotifyWait> = (0..3).map(|_| notify.wait()).collect();
        for wait in &mut waits {
            assert!(poll_once(wait).is_pending());
        }
        notify.raise();
        assert_eq!(notify.waiting(), 0);
        for wait in &mut waits {
            assert!(poll_once(wait).is_ready());
        }
        assert!(poll_once(&mut notify.wait()).is_ready(), "stays raised");
    }
}

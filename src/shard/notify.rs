//! Small single-threaded wake-up primitives for one executor: a one-shot
//! broadcast (`Notify`, for shutdown) and `first_of`, which resolves when
//! any of several futures does (for long-poll fetches over partitions).

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

/// A flag that, once raised, wakes every waiter and stays raised.
#[derive(Default)]
pub struct Notify {
    raised: Cell<bool>,
    waiters: RefCell<Vec<Waker>>,
}

impl Notify {
    pub fn raise(&self) {
        self.raised.set(true);
        for waker in self.waiters.borrow_mut().drain(..) {
            waker.wake();
        }
    }

    pub fn is_raised(&self) -> bool {
        self.raised.get()
    }

    /// Resolves once the flag is raised.
    pub fn wait(self: &Rc<Self>) -> NotifyWait {
        NotifyWait(self.clone())
    }
}

pub struct NotifyWait(Rc<Notify>);

impl Future for NotifyWait {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0.raised.get() {
            return Poll::Ready(());
        }
        self.0.waiters.borrow_mut().push(cx.waker().clone());
        Poll::Pending
    }
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

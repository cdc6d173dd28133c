//! A one-shot, single-threaded completion: the group-commit task fills it,
//! the appender awaits it. Nothing here is shared across threads, so `Rc`
//! and `RefCell` suffice.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

struct Slot<T> {
    value: Option<T>,
    waker: Option<Waker>,
    /// The sender was dropped without completing.
    abandoned: bool,
}

/// The sending half; completing it wakes the waiter.
pub struct Completer<T>(Rc<RefCell<Slot<T>>>);

/// The receiving half; resolves to `None` if the completer was dropped.
pub struct Completion<T>(Rc<RefCell<Slot<T>>>);

pub fn completion<T>() -> (Completer<T>, Completion<T>) {
    let slot = Rc::new(RefCell::new(Slot {
        value: None,
        waker: None,
        abandoned: false,
    }));
    (Completer(slot.clone()), Completion(slot))
}

impl<T> Completer<T> {
    pub fn complete(self, value: T) {
        let waker = {
            let mut slot = self.0.borrow_mut();
            slot.value = Some(value);
            slot.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
        // Drop runs next, sees the value, and does not mark it abandoned.
    }
}

impl<T> Drop for Completer<T> {
    fn drop(&mut self) {
        let waker = {
            let mut slot = self.0.borrow_mut();
            if slot.value.is_some() {
                return;
            }
            slot.abandoned = true;
            slot.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl<T> Future for Completion<T> {
    type Output = Option<T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let mut slot = self.0.borrow_mut();
        if let Some(value) = slot.value.take() {
            return Poll::Ready(Some(value));
        }
        if slot.abandoned {
            return Poll::Ready(None);
        }
        slot.waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

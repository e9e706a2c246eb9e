//! Exposures noted where flags are evaluated. The running experiments are
//! indexed by flag and environment (swapped whole when they change), so an
//! evaluation of a flag without one costs a map lookup. An exposure is
//! buffered in memory (the earliest per subject kept) and flushed with the
//! evaluation counts; the store keeps each subject's first exposure.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use ff_store::{Exposure, StoredExperiment};
use time::OffsetDateTime;

use super::definition::{Experiment, Status};

/// Exposures held before new ones are dropped (a store down for long).
const MAX_PENDING: usize = 200_000;

/// Running experiments by flag, then environment: their ids.
#[derive(Debug, Default)]
pub struct RunningIndex(HashMap<String, HashMap<String, Arc<str>>>);

impl RunningIndex {
    /// The index of the running experiments among `stored`.
    pub fn of(stored: &[StoredExperiment]) -> RunningIndex {
        let mut index: HashMap<String, HashMap<String, Arc<str>>> = HashMap::new();
        for record in stored {
            let Ok(experiment) =
                serde_json::from_value::<Experiment>(record.experiment.document.clone())
            else {
                continue;
            };
            if experiment.status == Status::Running {
                index
                    .entry(experiment.flag_id)
                    .or_default()
                    .insert(experiment.environment, Arc::from(experiment.id.as_str()));
            }
        }
        RunningIndex(index)
    }

    /// The experiment running on `flag_id` in `environment`, if any.
    pub fn running(&self, flag_id: &str, environment: &str) -> Option<&Arc<str>> {
        self.0.get(flag_id)?.get(environment)
    }
}

/// What the evaluation path needs: the index and the buffer.
#[derive(Debug, Default)]
pub struct Exposures {
    /// The running experiments.
    pub index: ArcSwap<RunningIndex>,
    pending: Mutex<HashMap<Subject, FirstSeen>>,
}

/// An experiment and a subject.
type Subject = (Arc<str>, String);
/// The variant a subject was first served, and when.
type FirstSeen = (String, OffsetDateTime);

impl Exposures {
    /// Notes that `subject` was served `variant` of experiment `id` at `at`
    /// (the earliest note per subject is kept).
    pub fn note(&self, id: &Arc<str>, subject: String, variant: &str, at: OffsetDateTime) {
        let Ok(mut pending) = self.pending.lock() else {
            return;
        };
        if pending.len() >= MAX_PENDING {
            return;
        }
        pending
            .entry((id.clone(), subject))
            .or_insert_with(|| (variant.to_owned(), at));
    }

    /// Takes what was noted, to store.
    pub fn take(&self) -> Vec<Exposure> {
        let pending = match self.pending.lock() {
            Ok(mut pending) => std::mem::take(&mut *pending),
            Err(_) => return Vec::new(),
        };
        pending
            .into_iter()
            .map(|((id, subject), (variant, at))| Exposure {
                experiment_id: id.to_string(),
                subject,
                variant,
                at,
            })
            .collect()
    }

    /// Puts exposures back that could not be stored.
    pub fn restore(&self, exposures: Vec<Exposure>) {
        for exposure in exposures {
            let id: Arc<str> = Arc::from(exposure.experiment_id.as_str());
            self.note(&id, exposure.subject, &exposure.variant, exposure.at);
        }
    }
}

"""The epoch loop's compiled work: training steps and test-set evaluation over data placed once.

`make_engine(model, ...)` returns the engine of the current Keras backend. Both engines keep the
training and test images where the step runs (on the device for JAX when they fit), shuffle by
sending only a permutation of indices (the batch is gathered inside the compiled step), run
`steps_per_execution` steps per compiled call (a `lax.scan` on JAX, a `tf.range` loop on
TensorFlow) and score the whole test set in one compiled call: its loss, confusion matrix and
which images each was right on. A run with a validation split (`set_validation`) scores it the
same way, from the training images already placed, against their clean labels. The model's own
`train_step` does the work, so loss, metrics, optimizer and dtype policy are exactly what
`compile` set.
"""

import keras
import numpy as np
from keras import ops

EVAL_BATCH_SIZE = 500
AUTO_STEPS_CAP = 32  # steps per compiled call chosen on an accelerator: enough to hide dispatch
DEVICE_DATA_FRACTION = 0.25  # put the data on the accelerator when it takes at most this share of memory


def on_accelerator():
    """True when the current backend computes on a GPU or TPU."""
    if keras.backend.backend() == "jax":
        import jax

        return jax.default_backend() != "cpu"
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        return bool(tf.config.list_physical_devices("GPU"))
    return False


def choose_steps_per_execution(requested, steps_per_epoch, accelerator=None):
    """`requested` steps per compiled call if > 0 (at most an epoch); 0 = automatic: on an
    accelerator the largest divisor of `steps_per_epoch` up to AUTO_STEPS_CAP (one compiled
    shape, dispatch hidden), on CPU 1 (a step there costs far more than its dispatch)."""
    if requested > 0:
        return min(requested, steps_per_epoch)
    if not (on_accelerator() if accelerator is None else accelerator):
        return 1
    return max(d for d in range(1, min(AUTO_STEPS_CAP, steps_per_epoch) + 1) if steps_per_epoch % d == 0)


def evaluation_sums(logits, labels, weights, num_classes):
    """Summed cross-entropy (from logits) and the confusion matrix (true label = row) of a batch;
    rows with weight 0 (padding) count for nothing."""
    losses = ops.sparse_categorical_crossentropy(labels, logits, from_logits=True)
    truth = ops.one_hot(labels, num_classes) * weights[:, None]
    predicted = ops.one_hot(ops.argmax(logits, axis=-1), num_classes)
    return ops.sum(losses * weights), ops.matmul(ops.transpose(truth), predicted)


def predicted_labels(logits):
    """The class each row of logits picks, as int32."""
    return ops.cast(ops.argmax(logits, axis=-1), "int32")


def _eval_batches(num_test, batch_size, indices=None):
    """Index rows [n, batch] covering a set once (its images `indices`, default 0 ... num_test - 1),
    the last padded with the first image at weight 0, and their weights."""
    indices = np.arange(num_test) if indices is None else np.asarray(indices)
    batch_size = min(batch_size, num_test)
    n = -(-num_test // batch_size)
    idx = np.full(n * batch_size, indices[0], dtype=np.int32)
    idx[:num_test] = indices
    weights = (np.arange(n * batch_size) < num_test).astype(np.float32)
    return idx.reshape(n, batch_size), weights.reshape(n, batch_size)


def _scores(loss_sum, confusion, predicted, labels):
    """Mean loss, error and confusion matrix of one scored set, and which images it got right."""
    confusion = np.rint(np.asarray(confusion, dtype=np.float64)).astype(np.int64)
    accuracy = float(np.trace(confusion) / len(labels))
    correct = np.asarray(predicted).reshape(-1)[: len(labels)] == labels
    return float(loss_sum) / len(labels), accuracy, confusion, correct


class _Engine:
    """Backend-neutral part: chunking an epoch's order into compiled calls, reading metrics."""

    def __init__(self, model, x_train, train_targets, x_test, y_test, num_classes, steps_per_execution):
        self.model, self.num_classes, self.steps_per_execution = model, num_classes, steps_per_execution
        # What `fit` does first: build the compiled loss, metrics and optimizer from a batch's shapes,
        # so the state the compiled step carries is complete from the first call.
        model._symbolic_build(data_batch=(x_train[:1], train_targets[:1]))
        self.eval_idx, self.eval_weights = _eval_batches(len(x_test), EVAL_BATCH_SIZE)
        self.y_test = np.asarray(y_test)
        self.validation = None  # (indices into the training set, their clean labels, rows, weights)

    def train_epoch(self, order, batch_size):
        """Trains on `order` (whole batches of training-set indices); returns the epoch's mean
        loss and metrics, keyed as the model's metrics are (loss, accuracy, clean_accuracy)."""
        rows = np.asarray(order, dtype=np.int32).reshape(-1, batch_size)
        chunks = [rows[i : i + self.steps_per_execution] for i in range(0, len(rows), self.steps_per_execution)]
        self._train_chunks(chunks)
        return {k: float(v) for k, v in self.model.get_metrics_result().items()}

    def evaluate(self):
        """Test loss, accuracy, error and confusion matrix of the current weights (inference mode),
        and `correct`: bool [test images], which images the predicted class was right on."""
        loss, accuracy, confusion, correct = _scores(*self._evaluate(), self.y_test)
        return {
            "test_loss": loss,
            "test_accuracy": accuracy,
            "test_error": 1.0 - accuracy,
            "confusion": confusion,
            "correct": correct,
        }

    def set_validation(self, indices, clean_labels):
        """Scores the training images `indices` (None or empty: no validation split) against
        `clean_labels` (the whole training set's) from now on, in `evaluate_validation`."""
        if indices is None or len(indices) == 0:
            self.validation = None
            return
        indices = np.asarray(indices, dtype=np.int32)
        rows, weights = _eval_batches(len(indices), EVAL_BATCH_SIZE, indices)
        self.validation = (indices, np.asarray(clean_labels)[indices], rows, weights)
        self._place_validation()

    def evaluate_validation(self):
        """Validation loss and error (clean labels) of the current weights; None without a split."""
        if self.validation is None:
            return {"val_loss": None, "val_error": None}
        loss, accuracy, _, _ = _scores(*self._evaluate_validation(), self.validation[1])
        return {"val_loss": loss, "val_error": 1.0 - accuracy}

    def _place_validation(self):
        """Backend hook: make the validation set reachable by the compiled evaluation."""


class _JaxEngine(_Engine):
    def __init__(self, model, x_train, train_targets, x_test, y_test, num_classes, steps_per_execution):
        import jax

        super().__init__(model, x_train, train_targets, x_test, y_test, num_classes, steps_per_execution)
        # The training set stays on the host only if the accelerator lacks room: then each call
        # receives its own batches, gathered on the host.
        self.on_device = _fits_on_device(x_train.nbytes + train_targets.nbytes)
        self.set_data(x_train, train_targets, x_test, y_test)
        self._train = jax.jit(self._train_scan, donate_argnums=0)
        self._eval = jax.jit(self._eval_scan)

    def set_data(self, x_train, train_targets, x_test, y_test):
        import jax

        place = jax.device_put if self.on_device else np.asarray
        self.x_train, self.train_targets = place(x_train), place(train_targets)
        self.clean_train = place(np.asarray(train_targets)[:, 1])
        self.y_test = np.asarray(y_test)
        self.x_test, self.y_test_placed = jax.device_put(x_test), jax.device_put(self.y_test)
        self.validation = None

    def _place_validation(self):
        """On the device the validation rows index the placed training set; on the host its
        images are gathered once and placed (a small share of the training set)."""
        import jax

        indices, labels, rows, weights = self.validation
        if self.on_device:
            self.val_placed = (self.x_train, self.clean_train, rows)
        else:
            local = np.searchsorted(indices, rows).astype(np.int32)  # indices are sorted
            self.val_placed = (jax.device_put(self.x_train[indices]), jax.device_put(labels), local)

    def _train_scan(self, state, x_all, targets, rows):
        import jax

        def step(state, batch_rows):
            batch = (x_all[batch_rows], targets[batch_rows])
            _, state = self.model.train_step(state, batch)
            return state, None

        if rows.shape[0] == 1:  # one step per call (CPU default): no loop around it
            return step(state, rows[0])[0]
        return jax.lax.scan(step, state, rows)[0]

    def _eval_scan(self, trainable, non_trainable, x_all, labels, rows, weights):
        import jax

        def step(sums, batch):
            batch_rows, batch_weights = batch
            logits, _ = self.model.stateless_call(trainable, non_trainable, x_all[batch_rows], training=False)
            loss, confusion = evaluation_sums(logits, labels[batch_rows], batch_weights, self.num_classes)
            return (sums[0] + loss, sums[1] + confusion), predicted_labels(logits)

        zeros = (ops.zeros(()), ops.zeros((self.num_classes, self.num_classes)))
        if rows.shape[0] == 1:
            sums, predicted = step(zeros, (rows[0], weights[0]))
            return (*sums, predicted[None])
        sums, predicted = jax.lax.scan(step, zeros, (rows, weights))
        return (*sums, predicted)

    def _train_chunks(self, chunks):
        model = self.model
        state = (
            [v.value for v in model.trainable_variables],
            [v.value for v in model.non_trainable_variables],
            [v.value for v in model.optimizer.variables],
            [ops.zeros_like(v.value) for v in model.metrics_variables],
        )  # metrics restart each epoch
        for rows in chunks:
            if self.on_device:
                state = self._train(state, self.x_train, self.train_targets, rows)
            else:
                picked = rows.ravel()
                local = np.arange(picked.size, dtype=np.int32).reshape(rows.shape)
                state = self._train(state, self.x_train[picked], self.train_targets[picked], local)
        variables = (
            model.trainable_variables,
            model.non_trainable_variables,
            model.optimizer.variables,
            model.metrics_variables,
        )
        for group, values in zip(variables, state):
            for variable, value in zip(group, values):
                variable.assign(value)

    def _evaluate(self):
        return self._score(self.x_test, self.y_test_placed, self.eval_idx, self.eval_weights)

    def _evaluate_validation(self):
        images, labels, rows = self.val_placed
        return self._score(images, labels, rows, self.validation[3])

    def _score(self, images, labels, rows, weights):
        model = self.model
        return self._eval(
            [v.value for v in model.trainable_variables],
            [v.value for v in model.non_trainable_variables],
            images,
            labels,
            rows,
            weights,
        )


class _TensorFlowEngine(_Engine):
    def __init__(self, model, x_train, train_targets, x_test, y_test, num_classes, steps_per_execution):
        import tensorflow as tf

        super().__init__(model, x_train, train_targets, x_test, y_test, num_classes, steps_per_execution)
        # Variables, not constants: the traced loops read them, so a reused engine takes new data.
        with tf.init_scope():
            held = [tf.Variable(a, trainable=False) for a in (x_train, train_targets, x_test, self.y_test)]
        self.x_train, self.train_targets, self.x_test, self.y_test_placed = held
        jit = bool(model.jit_compile)
        self._train = tf.function(self._train_loop, jit_compile=jit, reduce_retracing=True)
        self._eval = tf.function(self._eval_loop, jit_compile=jit)
        self._eval_val = tf.function(self._val_loop, jit_compile=jit)

    def _train_loop(self, rows):
        import tensorflow as tf

        for i in tf.range(tf.shape(rows)[0]):
            batch_rows = rows[i]
            self.model.train_step((tf.gather(self.x_train, batch_rows), tf.gather(self.train_targets, batch_rows)))

    def _eval_loop(self, rows, weights):
        import tensorflow as tf

        return self._scored(self.x_test, lambda batch: tf.gather(self.y_test_placed, batch), rows, weights)

    def _val_loop(self, rows, weights):
        import tensorflow as tf

        return self._scored(self.x_train, lambda batch: tf.gather(self.train_targets, batch)[:, 1], rows, weights)

    def _scored(self, images, labels_of, rows, weights):
        import tensorflow as tf

        loss_sum = tf.zeros(())
        confusion = tf.zeros((self.num_classes, self.num_classes))
        predicted = tf.TensorArray(tf.int32, size=tf.shape(rows)[0])
        for i in tf.range(tf.shape(rows)[0]):
            logits = self.model(tf.gather(images, rows[i]), training=False)
            loss, counts = evaluation_sums(logits, labels_of(rows[i]), weights[i], self.num_classes)
            loss_sum, confusion = loss_sum + loss, confusion + counts
            predicted = predicted.write(i, predicted_labels(logits))
        return loss_sum, confusion, predicted.stack()

    def set_data(self, x_train, train_targets, x_test, y_test):
        self.y_test = np.asarray(y_test)
        held = (self.x_train, self.train_targets, self.x_test, self.y_test_placed)
        for variable, value in zip(held, (x_train, train_targets, x_test, self.y_test)):
            variable.assign(value)

    def _train_chunks(self, chunks):
        self.model.reset_metrics()
        for rows in chunks:
            self._train(rows)

    def _evaluate(self):
        return self._eval(self.eval_idx, self.eval_weights)

    def _evaluate_validation(self):
        return self._eval_val(self.validation[2], self.validation[3])


def make_engine(model, x_train, train_targets, x_test, y_test, num_classes, steps_per_execution):
    """The engine of the current backend for a compiled `model` (optimizer built). `set_data`
    gives it another run's data of the same shapes without retracing."""
    backend = keras.backend.backend()
    engines = {"jax": _JaxEngine, "tensorflow": _TensorFlowEngine}
    if backend not in engines:
        raise ValueError(f"Training runs on the Keras backends {sorted(engines)}. Received: KERAS_BACKEND={backend!r}")
    return engines[backend](model, x_train, train_targets, x_test, y_test, num_classes, steps_per_execution)


def _fits_on_device(nbytes):
    """True on CPU (host memory is the device) or when the accelerator's memory has ample room."""
    import jax

    device = jax.devices()[0]
    if device.platform == "cpu":
        return True
    limit = (device.memory_stats() or {}).get("bytes_limit")
    return limit is None or nbytes <= DEVICE_DATA_FRACTION * limit

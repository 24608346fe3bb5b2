"""Self-conditioned GAN (Liu et al. 2020): an unconditional GAN that finds its own categories.

A conditional GAN learns faster than an unconditional one: D judges "is this a real sneaker?",
which is easier to learn and to answer than "is this a real anything?". Without labels, the
self-conditioned GAN makes its own: it clusters the training images with k-means and trains a
cGAN on the clusters. The first clusters are of the images' pixels; at the end of every epoch
the images are clustered again in the features of D, which by then knows more about products
than pixels do. Each new clustering starts from the old clusters' means, so a cluster keeps its
index (and G its embedding) from one epoch to the next.

- `SelfConditionedGAN`: the cGAN trainer (`cgan.CGAN`, projection D, no classifier heads) on the
  cluster labels. G ships the clusters' sizes (`ClusterSizes`), and sampling draws the clusters
  with their frequency among the training images, as an unconditional GAN would.
- `SelfConditioning`: the callback that clusters and re-clusters, and the training data that
  pairs every image with its current cluster (`dataset`).
"""

import keras
import numpy as np
import tensorflow as tf
from keras import layers, ops

from prodgen_lessons.data import check_image_shape
from prodgen_lessons.models.cgan import CGAN
from prodgen_lessons.models.convnets import discriminator_body, generator_body
from prodgen_lessons.models.gan import dtype_policy, gan_optimizers, in_batches, resolve_precision


class ClusterSizes(layers.Layer):
    """Passes the cluster index through and carries the number of training images in each
    cluster, so that the shipped generator knows how often to draw each one."""

    def __init__(self, clusters, **kwargs):
        super().__init__(**kwargs)
        self.clusters = int(clusters)
        self.sizes = self.add_weight(shape=(self.clusters,), initializer="zeros", trainable=False,
                                     dtype="float32", name="sizes")

    def call(self, cluster):
        return cluster

    def get_config(self):
        return {**super().get_config(), "clusters": self.clusters}


def build_generator(latent_dim=64, image_shape=(28, 28, 1), clusters=100, embed_dim=8, base_filters=64):
    """G([z, cluster]) -> image in [-1, 1]: the DCGAN's generator on z and the cluster's embedding
    (8 numbers: a hundred clusters need few, and each one widens G's first layer by 6,272 weights)."""
    image_shape = check_image_shape(image_shape)
    z = keras.Input((latent_dim,), name="z")
    cluster = keras.Input((), dtype="int32", name="label")
    embedding = layers.Embedding(clusters, embed_dim, name="label_embedding")(
        ClusterSizes(clusters, name="cluster_sizes")(cluster))
    image = generator_body(layers.Concatenate()([z, embedding]), image_shape, base_filters)
    return keras.Model([z, cluster], image, name="selfcond_generator")


def build_discriminator(image_shape=(28, 28, 1), clusters=100, base_filters=64, dropout=0.0, hidden=1024):
    """D([image, cluster]) -> logit = w . h(x) + e(cluster) . h(x), a projection discriminator;
    h(x), the output of the layer before "linear", are the features the images are clustered in."""
    image = keras.Input(check_image_shape(image_shape), name="image")
    cluster = keras.Input((), dtype="int32", name="label")
    h = discriminator_body(image, image_shape, base_filters, dropout, hidden=hidden)
    projection = layers.Embedding(clusters, h.shape[-1], name="label_projection")(cluster)
    logit = layers.Dense(1, name="linear")(h) + ops.sum(projection * h, axis=-1, keepdims=True)
    return keras.Model([image, cluster], logit, name="selfcond_discriminator")


class SelfConditionedGAN(CGAN):
    """A cGAN whose labels are clusters of the training images (train it with `SelfConditioning`)."""

    def __init__(self, generator, discriminator, **kwargs):
        super().__init__(generator, discriminator, ac_weight=0.0, twin_weight=0.0, **kwargs)
        self.cluster_sizes = generator.get_layer("cluster_sizes").sizes

    @property
    def metrics(self):  # no classifier heads: the GAN's losses and D's accuracy
        return [self.g_loss_tracker, self.d_loss_tracker, self.d_acc_tracker]

    def self_conditioning(self, images, seed=0, verbose=False):
        """The callback (and data) that clusters `images` (in [-1, 1]) for this trainer."""
        if len(images) < self.num_classes:
            raise ValueError(f"{len(images)} training images cannot make {self.num_classes} clusters: give at "
                             f"least {self.num_classes} images, or fewer clusters (clusters=0, the plain DCGAN, "
                             "needs none)")
        return SelfConditioning(images, seed=seed, verbose=verbose)

    def features(self, images):
        """D's features h(x) of `images`, unit-normalised (the space the clusters live in)."""
        d = self.discriminator
        body = keras.Model(d.inputs[0], d.get_layer("linear").input)
        h = np.asarray(in_batches(body, images), "float32")
        return h / (np.linalg.norm(h, axis=1, keepdims=True) + 1e-8)

    def cluster_frequencies(self):
        """How often each cluster occurs among the training images (uniform before training)."""
        sizes = np.asarray(self.cluster_sizes.numpy(), "float64")
        return sizes / sizes.sum() if sizes.sum() > 0 else np.full(self.num_classes, 1.0 / self.num_classes)

    def sample(self, n, labels=None, seed=0):
        """n images in [0, 1]; labels = clusters (int array or one int), None = drawn with
        their frequency among the training images."""
        if labels is None:
            labels = np.random.default_rng([seed, 1]).choice(self.num_classes, size=int(n),
                                                            p=self.cluster_frequencies())
        return super().sample(n, labels=labels, seed=seed)


def kmeans(points, centres, iterations=15):
    """Lloyd's k-means from `centres`: (the cluster of every point, the final centres). An empty
    cluster keeps its centre."""
    x = tf.constant(points, tf.float32)
    c = tf.constant(centres, tf.float32)
    k = c.shape[0]
    for _ in range(iterations):
        distances = tf.reduce_sum(c * c, axis=1)[None, :] - 2.0 * x @ tf.transpose(c)
        assigned = tf.argmin(distances, axis=1, output_type=tf.int32)
        sums = tf.math.unsorted_segment_sum(x, assigned, k)
        sizes = tf.math.unsorted_segment_sum(tf.ones_like(assigned, tf.float32), assigned, k)[:, None]
        c = tf.where(sizes > 0, sums / tf.maximum(sizes, 1.0), c)
    return assigned.numpy(), c.numpy()


def kmeans_plus_plus(points, k, rng):
    """k starting centres, each drawn with probability proportional to its squared distance
    from the nearest centre drawn before (Arthur & Vassilvitskii 2007)."""
    chosen = [rng.integers(len(points))]
    distance = ((points - points[chosen[0]]) ** 2).sum(1)
    for _ in range(k - 1):
        chosen.append(rng.choice(len(points), p=distance / distance.sum()))
        distance = np.minimum(distance, ((points - points[chosen[-1]]) ** 2).sum(1))
    return points[chosen]


class SelfConditioning(keras.callbacks.Callback):
    """Clusters the training images for a `SelfConditionedGAN`: of their pixels when training
    starts afresh, of D's features when it resumes and at the end of every epoch.

    Train on `dataset(batch_size, seed)`: (image, its current cluster) batches, the clusters read
    when the batch is drawn."""

    def __init__(self, images, seed=0, verbose=False):
        super().__init__()
        self.images = np.asarray(images, "float32")
        self.rng = np.random.default_rng(seed)
        self.verbose = verbose
        self.labels = tf.Variable(tf.zeros(len(self.images), tf.int32), trainable=False)
        self.assigned = None
        self.kept = []  # the share of images that kept their cluster at each re-clustering

    def dataset(self, batch_size, seed=0):
        index = np.arange(len(self.images), dtype="int32")
        return (tf.data.Dataset.from_tensor_slices((self.images, index))
                .shuffle(len(index), seed=seed, reshuffle_each_iteration=True)
                .batch(batch_size, drop_remainder=True)
                .map(lambda x, i: (x, tf.gather(self.labels, i)))
                .prefetch(tf.data.AUTOTUNE))

    def _use(self, assigned):
        if self.assigned is not None:
            self.kept.append(float(np.mean(assigned == self.assigned)))
        self.assigned = assigned
        self.labels.assign(assigned)
        self.model.cluster_sizes.assign(np.bincount(assigned, minlength=self.model.num_classes).astype("float32"))

    def on_train_begin(self, logs=None):
        k = self.model.num_classes
        if self.model.d_optimizer.iterations.numpy() > 0:  # resumed: D's features already mean something
            points = self.model.features(self.images)
        else:
            points = self.images.reshape(len(self.images), -1)
        self._use(kmeans(points, kmeans_plus_plus(points, k, self.rng))[0])

    def on_epoch_end(self, epoch, logs=None):
        if self.model.stop_training or epoch + 1 >= self.params.get("epochs", np.inf):
            return  # the last epoch: no one would train on new clusters
        points = self.model.features(self.images)
        k = self.model.num_classes
        sums = np.zeros((k, points.shape[1]))
        np.add.at(sums, self.assigned, points)
        sizes = np.bincount(self.assigned, minlength=k)[:, None]
        centres = np.where(sizes > 0, sums / np.maximum(sizes, 1), points[self.rng.integers(len(points), size=k)])
        self._use(kmeans(points, centres)[0])
        if self.verbose:
            print(f"re-clustered in D's features: {self.kept[-1]:.0%} of the images kept their cluster")


def build_selfcond_gan(image_shape=(28, 28, 1), latent_dim=64, clusters=100, base_filters=64, dropout=0.0,
                       hidden=1024, loss="hinge", learning_rate=(1e-3, 2e-4), ema=0.999, precision="auto"):
    """A compiled SelfConditionedGAN with the DCGAN recipe's networks and optimisers."""
    if int(clusters) < 2:
        raise ValueError(f"clusters must be >= 2, got {clusters}")
    with dtype_policy(resolve_precision(precision)):
        trainer = SelfConditionedGAN(build_generator(latent_dim, image_shape, clusters, base_filters=base_filters),
                                     build_discriminator(image_shape, clusters, base_filters, dropout, hidden),
                                     loss=loss)
        g_optimizer, d_optimizer = gan_optimizers(learning_rate, ema)
        trainer.compile(g_optimizer=g_optimizer, d_optimizer=d_optimizer)
    return trainer

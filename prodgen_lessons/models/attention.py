"""Self-attention for convolutional GANs (SAGAN, Zhang et al. 2019) -- article 6.3 "attention".

Every position attends to every other position of the feature map x (N = H*W positions):

    f = conv1x1(x) (keys),  g = conv1x1(x) (queries),  h = conv1x1(x) (values)
    beta = softmax_over_keys(g f^T)                      (N x N)
    o = beta h ;  y = x + gamma * o                      gamma is learned, starts at 0

so the layer starts as the identity and the network learns how much long-range context to use.
"""

import keras
from keras import layers, ops


@keras.saving.register_keras_serializable(package="prodgen_lessons")
class SelfAttention(layers.Layer):
    def __init__(self, key_ratio=8, **kwargs):
        super().__init__(**kwargs)
        if key_ratio < 1:
            raise ValueError(f"key_ratio must be >= 1, got {key_ratio}")
        self.key_ratio = int(key_ratio)

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels is None:
            raise ValueError("SelfAttention needs a known channel dimension")
        keys = max(1, channels // self.key_ratio)
        # the sublayers compute in this layer's dtype policy (mixed precision included)
        self.f = layers.Conv2D(keys, 1, name="f", dtype=self.dtype_policy)  # keys
        self.g = layers.Conv2D(keys, 1, name="g", dtype=self.dtype_policy)  # queries
        self.h = layers.Conv2D(channels, 1, name="h", dtype=self.dtype_policy)  # values
        for conv in (self.f, self.g, self.h):
            conv.build(input_shape)
        self.gamma = self.add_weight(name="gamma", shape=(), initializer="zeros")

    def call(self, x):
        shape = ops.shape(x)
        n = shape[1] * shape[2]
        f = ops.reshape(self.f(x), (shape[0], n, -1))
        g = ops.reshape(self.g(x), (shape[0], n, -1))
        h = ops.reshape(self.h(x), (shape[0], n, -1))
        beta = ops.softmax(ops.matmul(g, ops.transpose(f, (0, 2, 1))), axis=-1)  # (B, N, N)
        o = ops.reshape(ops.matmul(beta, h), shape)
        return x + self.gamma * o

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "key_ratio": self.key_ratio}

"""The course's models by name, so that the CLI, the pretrained recipes and the notebooks build
them the same way: ``build("cgan", image_shape=(28, 28, 1))`` returns a compiled trainer.

One module per family (article section in brackets):
gan (3.1) · dcgan (3.3) · selfcond (3.3: the DCGAN on clusters of its images) · cgan (3.2, 5.4, 6) ·
attention (6.3) · infogan (3.3) · cyclegan (3.3) · vae (4, 7) · diffusion (8) ·
classifier (the judge behind the metrics);
convnets holds the convolutional bodies the GANs share (in one module, so that the families import
each other as a tree, never in a circle: tests/test_imports.py).

Every builder takes ``(image_shape, latent_dim, num_classes, **options)``. A model's `ModelSpec`
says what kind of model it is -- a "generator" (samples images from noise), a "translator"
(turns images of one category into another) or a "classifier" (the judge) -- and which of its
networks ship as pretrained weights.
"""

from __future__ import annotations

import dataclasses

from prodgen_lessons.models import cgan, classifier, cyclegan, dcgan, diffusion, gan, infogan, selfcond, vae

KINDS = ("generator", "translator", "classifier")


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    name: str
    build_fn: object
    kind: str             # one of KINDS
    scale: str            # "tanh" -> data in [-1, 1], "unit" -> [0, 1]
    conditional: bool     # does sample() honour category labels?
    latent_dim: int | None
    batch_size: int
    networks: tuple       # the networks saved as <network>.weights.h5 (a classifier is its own network)
    description: str
    options: dict = dataclasses.field(default_factory=dict)  # defaults the caller's options override
    sampling: tuple = ()  # trainer attributes that change how sample() draws (temperature, guidance, steps)


MODELS = {s.name: s for s in [
    ModelSpec("gan", gan.build_gan, "generator", "tanh", False, 64, 64, ("generator",),
              "MLP generator and discriminator with the article's losses (3.1)"),
    ModelSpec("dcgan", dcgan.build_dcgan, "generator", "tanh", False, 64, 64, ("generator",),
              "deep convolutional GAN (3.3); with clusters > 0, self-conditioned on clusters of its images"),
    ModelSpec("cgan", cgan.build_cgan, "generator", "tanh", True, 64, 64, ("generator",),
              "conditional GAN: label embedding, projection discriminator, auxiliary classifier (3.2, 5.4, 6)"),
    ModelSpec("infogan", infogan.build_infogan, "generator", "tanh", False, 62, 64, ("generator",),
              "InfoGAN: categorical and continuous codes learned without labels (3.3)"),
    ModelSpec("vae", vae.build_vae, "generator", "unit", False, 16, 128, ("encoder", "decoder", "prior"),
              "convolutional variational autoencoder (4, 7)", sampling=("temperature",)),
    ModelSpec("cvae", vae.build_cvae, "generator", "unit", True, 16, 128, ("decoder", "prior"),
              "conditional VAE, category as condition (7.3)", sampling=("temperature", "guidance")),
    ModelSpec("diffusion", diffusion.build_diffusion, "generator", "tanh", True, None, 64, ("denoiser",),
              "conditional diffusion model: EDM denoiser U-Net, classifier-free guidance, Heun sampler",
              sampling=("steps", "guidance")),
    ModelSpec("cyclegan", cyclegan.build_cyclegan, "translator", "tanh", False, None, 32,
              ("generator_ab", "generator_ba"), "CycleGAN between two product categories (3.3)"),
    ModelSpec("classifier", classifier.build_compiled_classifier, "classifier", "unit", False, None, 128,
              ("classifier",), "product classifier whose features the metrics use"),
    ModelSpec("classifier2", classifier.build_compiled_classifier, "classifier", "unit", False, None, 128,
              ("classifier",), "the second, independent judge: all-convolutional, no pooling or BatchNorm",
              options={"architecture": "allconv"}),
]}


def spec(name) -> ModelSpec:
    """The ModelSpec of `name`; an unknown name is an error that lists the valid ones."""
    key = str(name).strip().lower()
    if key not in MODELS:
        raise ValueError(f"unknown model {name!r}; valid models are: {', '.join(MODELS)}")
    return MODELS[key]


def build(name, image_shape=(28, 28, 1), latent_dim=None, num_classes=10, **options):
    """A compiled trainer (or classifier) of model `name` with its default optimisers."""
    s = spec(name)
    return s.build_fn(tuple(image_shape), latent_dim or s.latent_dim, num_classes, **{**s.options, **options})


def networks(trainer, name, names=None):
    """{file stem: network} of what `name` ships: its spec's networks, or `names`."""
    s = spec(name)
    return {n: trainer if s.kind == "classifier" else getattr(trainer, n) for n in names or s.networks}

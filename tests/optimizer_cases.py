"""One registry of every optimizer: factory, valid kwargs, values to sweep."""

import jax.numpy as jnp

import jaxsched as js

LR = [0.01, 0.03, 0.1]
WD = [0.0, 1e-3, 1e-2]

REGISTRY = {
    "sgd": (
        js.sgd,
        dict(learning_rate=0.05, momentum=0.9, dampening=0.1, weight_decay=1e-3),
        dict(
            learning_rate=LR,
            momentum=[0.0, 0.5, 0.9],
            dampening=[0.0, 0.1, 0.5],
            weight_decay=WD,
        ),
    ),
    "sgd_nesterov": (
        js.sgd,
        dict(learning_rate=0.05, momentum=0.9, nesterov=True),
        dict(learning_rate=LR, momentum=[0.5, 0.8, 0.9], weight_decay=WD),
    ),
    "adagrad": (
        js.adagrad,
        dict(
            learning_rate=0.1,
            lr_decay=0.01,
            weight_decay=1e-3,
            initial_accumulator_value=0.1,
            eps=1e-10,
        ),
        dict(
            learning_rate=LR,
            lr_decay=[0.0, 0.01, 0.1],
            weight_decay=WD,
            initial_accumulator_value=[0.0, 0.1, 1.0],
            eps=[1e-10, 1e-6, 1e-3],
        ),
    ),
    "rmsprop": (
        js.rmsprop,
        dict(learning_rate=0.01, decay=0.95, eps=1e-8, weight_decay=1e-3, momentum=0.5),
        dict(
            learning_rate=[0.001, 0.005, 0.01],
            decay=[0.9, 0.95, 0.99],
            eps=[1e-8, 1e-6, 1e-3],
            weight_decay=WD,
            momentum=[0.0, 0.5, 0.9],
        ),
    ),
    "rmsprop_centered": (
        js.rmsprop,
        dict(learning_rate=0.01, momentum=0.5, centered=True),
        dict(
            learning_rate=[0.001, 0.005, 0.01],
            decay=[0.9, 0.95, 0.99],
            momentum=[0.0, 0.5, 0.9],
        ),
    ),
    "adam": (
        js.adam,
        dict(learning_rate=0.05, b1=0.9, b2=0.99, eps=1e-8, weight_decay=1e-3),
        dict(
            learning_rate=LR,
            b1=[0.0, 0.8, 0.9],
            b2=[0.9, 0.99, 0.999],
            eps=[1e-8, 1e-6, 1e-3],
            weight_decay=WD,
        ),
    ),
    "adam_amsgrad": (
        js.adam,
        dict(learning_rate=0.05, amsgrad=True),
        dict(learning_rate=LR, b1=[0.0, 0.8, 0.9], b2=[0.9, 0.99, 0.999]),
    ),
    "adamw": (
        js.adamw,
        dict(learning_rate=0.05, b1=0.9, b2=0.99, eps=1e-8, weight_decay=0.05),
        dict(
            learning_rate=LR,
            b1=[0.0, 0.8, 0.9],
            b2=[0.9, 0.99, 0.999],
            eps=[1e-8, 1e-6, 1e-3],
            weight_decay=[0.0, 0.01, 0.1],
        ),
    ),
}

SWEPT = [(name, arg) for name, (_, _, sweeps) in REGISTRY.items() for arg in sweeps]


def build(name, **overrides):
    factory, kwargs, _ = REGISTRY[name]
    return factory(**{**kwargs, **overrides})


def quadratic_params():
    return {"w": jnp.array([[1.0, -2.0], [0.5, 3.0]]), "b": jnp.array([0.3, -0.7])}


def quadratic_loss(params):
    """A well-conditioned quadratic with its minimum at 0.5 in every coordinate."""
    return sum(
        jnp.sum(
            (x - 0.5) ** 2 * jnp.arange(1, x.size + 1, dtype=x.dtype).reshape(x.shape)
        )
        for x in (params["w"], params["b"])
    )

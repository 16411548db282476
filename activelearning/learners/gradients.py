"""Per-item, per-label gradient norms of the cross-entropy loss, for expected gradient length.

Only the last (linear) layer's weights and bias are differentiated, the usual shortcut
for deep models (BADGE's gradient embeddings, Ash et al., 2020, do the same): it needs
one forward pass to the penultimate layer, after which per-sample gradients are cheap,
whereas the full parameter gradient would cost a backward pass per item and label.
"""
import numpy as np

from ._torch import compute_threads

GRADIENT_BATCH = 512


def _module_last_layer(module, X):
    """(inputs of the last registered nn.Linear, its weight, its bias or None) for a plain
    torch module, captured with a forward hook over one pass of X."""
    import torch
    from torch import nn

    linears = [layer for layer in module.modules() if isinstance(layer, nn.Linear)]
    if not linears:
        raise TypeError("the torch module has no nn.Linear layer to differentiate")
    last = linears[-1]
    captured = []
    handle = last.register_forward_hook(lambda _layer, inputs, _output: captured.append(inputs[0].detach()))
    try:
        inputs = X if isinstance(X, torch.Tensor) else torch.as_tensor(np.asarray(X, dtype=np.float32))
        with torch.no_grad():
            module.eval()
            module(inputs)
    finally:
        handle.remove()
    return captured[-1], last.weight.detach(), None if last.bias is None else last.bias.detach()


def _last_layer(model, X):
    import torch
    from torch import nn

    if isinstance(model, nn.Module):
        return _module_last_layer(model, X)
    if hasattr(model, "last_layer"):
        return tuple(torch.as_tensor(np.asarray(array, dtype=np.float32)) for array in model.last_layer(X))
    raise TypeError(
        f"{type(model).__name__} is neither a torch module nor a learner with last_layer(X) -> (features, weight, bias)"
    )


def torch_gradient_norms(model, X, batch_size: int = GRADIENT_BATCH, num_threads: int = 1) -> np.ndarray:
    """(n, k) array: entry (i, j) is the L2 norm, over the last layer's weight and bias,
    of the gradient of the cross-entropy loss of item i if its label were class j.

    `model` is a torch nn.Module (its last nn.Linear is used) or a learner exposing
    `last_layer(X)`; columns follow the model's outputs (`classes_` for the learners).
    A single-output layer is a binary logistic head (sklearn's binary coef_): the
    logits are then (0, z), which gives sklearn's probabilities.
    """
    with compute_threads(num_threads):
        return _norms(model, X, batch_size)


def _norms(model, X, batch_size: int) -> np.ndarray:
    import torch
    from torch.func import grad, vmap
    from torch.nn import functional

    features, weight, bias = _last_layer(model, X)
    has_bias = bias is not None
    if not has_bias:
        bias = torch.zeros(weight.shape[0])
    binary = weight.shape[0] == 1
    n_classes = 2 if binary else weight.shape[0]

    def loss(w, b, h, target):
        logits = h @ w.T + b
        if binary:
            logits = torch.cat([torch.zeros(1, dtype=logits.dtype), logits])
        return functional.cross_entropy(logits.unsqueeze(0), target.unsqueeze(0))

    per_item = vmap(grad(loss, argnums=(0, 1)), in_dims=(None, None, 0, 0))
    norms = np.empty((features.shape[0], n_classes))
    for start in range(0, features.shape[0], batch_size):
        chunk = features[start:start + batch_size]
        for label in range(n_classes):
            targets = torch.full((chunk.shape[0],), label, dtype=torch.long)
            grad_w, grad_b = per_item(weight, bias, chunk, targets)
            squared = grad_w.pow(2).sum(dim=(1, 2))
            if has_bias:
                squared = squared + grad_b.pow(2).sum(dim=1)
            norms[start:start + chunk.shape[0], label] = squared.sqrt().double().numpy()
    return norms

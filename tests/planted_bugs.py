"""Realistic mistakes, each planted in a copy of the answer key to prove a grader catches it.

Each entry: the exercise that must FAIL (or ERROR), a name that says what is wrong,
the chapter file, the line as the answer key has it, and the line with the mistake.
"""

from __future__ import annotations

from tests.workspace import Planted

AUTOGRAD = "autograd.py"
CHAPTER_01 = [
    Planted("1.1", "Python floats stay float64", AUTOGRAD,
            "                array = array.astype(DEFAULT_FLOAT)\n", "                pass\n"),
    Planted("1.1", "Tensor copies NumPy arrays", AUTOGRAD,
            "            array = np.asarray(data)\n", "            array = np.array(data)\n"),
    Planted("1.2", "graph recorded under no_grad", AUTOGRAD,
            "if is_grad_enabled() and any(", "if any("),
    Planted("1.2", "forward receives Tensors", AUTOGRAD,
            "cls.forward(ctx, *(_raw(arg) for arg in args))", "cls.forward(ctx, *args)",
            frozenset({"1.3"})),
    Planted("1.3", "a reused tensor's gradient is overwritten", AUTOGRAD,
            "grads[parent] = grads[parent] + parent_grad if parent in grads else parent_grad",
            "grads[parent] = parent_grad"),
    Planted("1.3", "leaf gradients overwritten across backward calls", AUTOGRAD,
            "node.grad = node_grad.copy() if node.grad is None else node.grad + node_grad",
            "node.grad = node_grad.copy()"),
    Planted("1.3", "a leaf's post-accumulate-grad hooks never run", AUTOGRAD,
            "                node._run_post_accumulate_grad_hooks()\n", ""),
    Planted("1.3", "the hooks run before the gradient is added", AUTOGRAD,
            "                node.grad = node_grad.copy() if node.grad is None else node.grad + node_grad\n"
            "                node._run_post_accumulate_grad_hooks()\n",
            "                node._run_post_accumulate_grad_hooks()\n"
            "                node.grad = node_grad.copy() if node.grad is None else node.grad + node_grad\n"),
    Planted("1.3", "breadth-first order: a gradient passed on before all consumers added theirs",
            AUTOGRAD, "        node, parents_done = stack.pop()\n",
            "        node, parents_done = stack.pop(0)\n"),
    Planted("1.4", "Sub forgets to unbroadcast", AUTOGRAD,
            "return unbroadcast(grad_output, a_shape), unbroadcast(-grad_output, b_shape)",
            "return grad_output, -grad_output"),
    Planted("1.4", "Div's gradient for b has the wrong sign", AUTOGRAD,
            "grad_b = -grad_output * a / (b * b)", "grad_b = grad_output * a / (b * b)"),
    Planted("1.4", "unbroadcast ignores stretched size-1 axes", AUTOGRAD,
            "    return np.asarray(grad.sum(axis=stretched, keepdims=True))",
            "    return np.asarray(grad)"),  # 1.8 grades MatMul on the answer key's unbroadcast
    Planted("1.5", "sigmoid's derivative missing (1 - out)", AUTOGRAD,
            "return grad_output * out * (1 - out)", "return grad_output * out"),
    Planted("1.5", "sigmoid overflows for large negative inputs", AUTOGRAD,
            "out = np.where(a >= 0, 1 / (1 + z), z / (1 + z))", "out = 1 / (1 + np.exp(-a))"),
    Planted("1.6", "max routes the full gradient to every tie", AUTOGRAD,
            "ctx.save_for_backward(winners / winners.sum(axis=ctx.axes, keepdims=True, dtype=a.dtype))",
            "ctx.save_for_backward(winners.astype(a.dtype))"),
    Planted("1.6", "mean divides by every element, not the reduced ones", AUTOGRAD,
            "count = int(np.prod([ctx.shape[axis] for axis in ctx.axes]))",
            "count = int(np.prod(ctx.shape))"),
    Planted("1.7", "GetItem assigns instead of adding (repeated indices)", AUTOGRAD,
            "np.add.at(grad, ctx.index, grad_output)", "grad[ctx.index] = grad_output"),
    Planted("1.7", "Permute's backward repeats the permutation", AUTOGRAD,
            "np.transpose(grad_output, np.argsort(ctx.dims))", "np.transpose(grad_output, ctx.dims)"),
    Planted("1.8", "batch dimensions of b not unbroadcast", AUTOGRAD,
            "grad_b = unbroadcast(MatMul.product(np.swapaxes(a2, -1, -2), g), b2.shape)",
            "grad_b = MatMul.product(np.swapaxes(a2, -1, -2), g)"),
    Planted("1.9", "one-sided difference divided by eps", AUTOGRAD,
            "numerical = (plus - minus) / (2 * eps)", "numerical = (plus - minus) / eps"),
    Planted("1.9", "gradcheck on float32 inputs as given", AUTOGRAD,
            "np.array(x.data, dtype=np.float64)", "np.array(x.data)"),
    # Found by an audit: each of these once got full marks.
    Planted("1.1", "item() lets NumPy's error through, which names no shape", AUTOGRAD,
            "        if self.data.size != 1:\n            raise ValueError(\n"
            "                f\"item() needs a tensor with one element, this one has shape {self.shape}\"\n"
            "            )\n        return self.data.item()\n",
            "        return self.data.item()\n"),
    Planted("1.1", "grad_fn never initialised (blamed by 1.2 and 1.3, which run through it)",
            AUTOGRAD, "        self.grad_fn: Context | None = None\n", "", frozenset({"1.2", "1.3"})),
    Planted("1.1", "bool tensors may require grad (only integers refused)", AUTOGRAD,
            "        if requires_grad and array.dtype.kind != \"f\":\n",
            "        if requires_grad and array.dtype.kind in \"iu\":\n"),
    Planted("1.3", "backward ignores the given grad and seeds with ones", AUTOGRAD,
            "        grad = np.asarray(_raw(grad), dtype=self.dtype)\n",
            "        grad = np.ones_like(self.data)\n"),
    Planted("1.3", "a grad of the wrong shape is not an error (it broadcasts)", AUTOGRAD,
            "        if grad.shape != self.shape:\n"
            "            raise ValueError(f\"backward(grad): grad has shape {grad.shape}, expected {self.shape}\")\n",
            ""),
    Planted("1.3", "the wrong-shape ValueError names neither shape", AUTOGRAD,
            "raise ValueError(f\"backward(grad): grad has shape {grad.shape}, expected {self.shape}\")",
            "raise ValueError(\"backward(grad): grad has the wrong shape\")"),
    Planted("1.3", "the seed keeps the caller's dtype", AUTOGRAD,
            "grad = np.asarray(_raw(grad), dtype=self.dtype)", "grad = np.asarray(_raw(grad))"),
    Planted("1.3", "a leaf's first gradient stored uncopied, later ones added in place", AUTOGRAD,
            "node.grad = node_grad.copy() if node.grad is None else node.grad + node_grad",
            "if node.grad is None:\n                    node.grad = node_grad\n"
            "                else:\n                    node.grad += node_grad"),
    Planted("1.3", "pending gradients added in place (+=) into what backward returned", AUTOGRAD,
            "grads[parent] = grads[parent] + parent_grad if parent in grads else parent_grad",
            "if parent in grads:\n                    grads[parent] += parent_grad\n"
            "                else:\n                    grads[parent] = parent_grad"),
    Planted("1.4", "Pow's backward as p * a**p / a (NaN at a = 0)", AUTOGRAD,
            "return grad_output * p * a ** (p - 1), None", "return grad_output * p * a**p / a, None"),
    Planted("1.5", "tanh from exp(2a): NaN for large |a|", AUTOGRAD,
            "        out = np.tanh(a)\n",
            "        e = np.exp(2 * a)\n        out = (e - 1) / (e + 1)\n"),
    Planted("1.5", "sigmoid's backward writes into the saved output", AUTOGRAD,
            "return grad_output * out * (1 - out)",
            "out *= 1 - out  # the derivative, in place to save memory\n        return grad_output * out"),
    Planted("1.5", "ReLU's forward clips its input in place", AUTOGRAD,
            "        return np.maximum(a, 0)\n", "        a[a < 0] = 0\n        return a\n"),
    Planted("1.6", "mean divides by np.prod's int64 count: a float64 gradient", AUTOGRAD,
            "        count = int(np.prod([ctx.shape[axis] for axis in ctx.axes]))\n"
            "        grad = _expand_to_input(grad_output, ctx.axes, ctx.keepdim, ctx.shape)\n"
            "        return grad / grad.dtype.type(count), None, None\n",
            "        count = np.prod([ctx.shape[axis] for axis in ctx.axes])\n"
            "        grad = _expand_to_input(grad_output, ctx.axes, ctx.keepdim, ctx.shape)\n"
            "        return grad / count, None, None\n"),
    Planted("1.6", "max's tie shares counted without a dtype: a float64 gradient", AUTOGRAD,
            "winners / winners.sum(axis=ctx.axes, keepdims=True, dtype=a.dtype)",
            "winners / winners.sum(axis=ctx.axes, keepdims=True)"),
    Planted("1.6", "reduced axes not put back before broadcasting", AUTOGRAD,
            "    if not keepdim:\n        grad = np.expand_dims(grad, axes)\n", ""),
    Planted("1.7", "GetItem's gradient starts from float64 zeros", AUTOGRAD,
            "grad = np.zeros(ctx.shape, dtype=grad_output.dtype)", "grad = np.zeros(ctx.shape)"),
    Planted("1.8", "matmul lets NumPy's shape error through, which names no shape", AUTOGRAD,
            "        if a.shape[-1] != b.shape[-2 if b.ndim > 1 else 0]:\n            raise ValueError(\n",
            "        if False:\n            raise ValueError(\n"),
    Planted("1.9", "gradcheck weights the output with ones", AUTOGRAD,
            "weights = np.asarray(np.random.default_rng(0).standard_normal(output_shape))",
            "weights = np.ones(output_shape)"),
    Planted("1.9", "gradcheck crashes on an input that gets no gradient (.grad None)", AUTOGRAD,
            "analytical = x.grad if x.grad is not None else np.zeros_like(x.data)",
            "analytical = x.grad"),
    Planted("1.9", "gradcheck also checks inputs that do not require grad", AUTOGRAD,
            "        if not x.requires_grad:\n            continue\n        analytical", "        analytical"),
]  # fmt: skip

NN, FUNCTIONAL, INIT = "nn.py", "functional.py", "init.py"
CHAPTER_02 = [
    Planted("2.1", "reassigning a name leaves its old registration", NN,
            "                registry.pop(name, None)\n", "                pass\n"),
    Planted("2.1", "a new value for a buffer drops it from the buffers", NN,
            "            buffers[name] = value  # a new value for a buffer keeps it a buffer",
            "            buffers.pop(name)"),
    Planted("2.2", "a shared parameter listed twice", NN,
            "if parameter is None or id(parameter) in seen:", "if parameter is None:"),
    Planted("2.2", "train() does not reach the sub-modules", NN,
            "        for _, module in self.named_modules():\n            module.training = mode",
            "        for _, module in [('', self)]:\n            module.training = mode"),
    Planted("2.3", "state_dict returns the live arrays, not a snapshot", NN,
            "return {name: tensor.data.copy() for name, tensor in self._state_tensors().items()}",
            "return {name: tensor.data for name, tensor in self._state_tensors().items()}"),
    Planted("2.3", "missing and unexpected keys swapped", NN,
            "missing = [name for name in own if name not in values]",
            "missing = [name for name in values if name not in own]"),
    Planted("2.4", "a slice of a Sequential is a plain list", NN,
            "            return Sequential(*modules[index])", "            return modules[index]"),
    Planted("2.4", "ModuleDict stores modules without registering them", NN,
            "        setattr(self, name, module)\n", "        self.__dict__[name] = module\n"),
    Planted("2.5", "kaiming_uniform_ uses std as the bound (no sqrt(3))", INIT,
            "    bound = math.sqrt(3.0) * std\n", "    bound = std\n", frozenset({"2.6"})),
    Planted("2.5", "xavier_uniform_ with 2 instead of 6", INIT,
            "math.sqrt(6.0 / (fan_in + fan_out))", "math.sqrt(2.0 / (fan_in + fan_out))"),
    Planted("2.6", "Linear's bias bound from out_features", NN,
            "bound = 1 / math.sqrt(self.in_features)", "bound = 1 / math.sqrt(self.out_features)"),
    Planted("2.6", "dropout scales the kept values by (1 - p)", FUNCTIONAL,
            "    scale = keep / (1.0 - p) if p < 1.0 else np.zeros(x.shape)",
            "    scale = keep * (1.0 - p)"),
    Planted("2.7", "softmax without subtracting the max", FUNCTIONAL,
            "        exps = np.exp(x - x.max(axis=dim, keepdims=True))", "        exps = np.exp(x)"),
    Planted("2.7", "log-softmax backward forgets the sum of the upstream gradient", FUNCTIONAL,
            "return grad_output - np.exp(out) * grad_output.sum(axis=ctx.dim, keepdims=True), None",
            "return grad_output - np.exp(out), None", frozenset({"2.8"})),
    Planted("2.8", "a weighted mean divided by N", FUNCTIONAL,
            "        return losses.sum() / sample_weights.data.sum()", "        return losses.mean()"),
    Planted("2.8", "cross-entropy normalises over the batch axis", FUNCTIONAL,
            "nll_loss(log_softmax(logits, dim=1)", "nll_loss(log_softmax(logits, dim=0)"),
    Planted("2.9", "load unpickles", NN,
            "np.load(path, allow_pickle=False)", "np.load(path, allow_pickle=True)"),
    Planted("2.9", "load does not check the format marker", NN,
            "            if FORMAT_KEY not in archive.files or str(archive[FORMAT_KEY]) != FORMAT:",
            "            if False:"),
    Planted("2.1", "a module assigned before Module.__init__ is not an error", NN,
            'if isinstance(value, (Parameter, Module)) and "_parameters" not in self.__dict__:',
            'if isinstance(value, Parameter) and "_parameters" not in self.__dict__:'),
    Planted("2.1", "register_buffer refuses None", NN,
            "        if not isinstance(tensor, (Tensor, type(None))):\n",
            "        if not isinstance(tensor, Tensor):\n"),
    Planted("2.6", "Flatten rebuilds a Tensor from .data (the graph is cut)", NN,
            "        return x.reshape(*x.shape[:start], -1, *x.shape[end + 1 :])\n",
            "        return Tensor(x.data.reshape(*x.shape[:start], -1, *x.shape[end + 1 :]))\n"),
    Planted("2.6", "dropout rebuilds a Tensor from .data (the graph is cut)", FUNCTIONAL,
            "    return x * Tensor(scale.astype(x.dtype))\n",
            "    return Tensor(x.data * scale.astype(x.dtype))\n"),
    Planted("2.6", "dropout's float64 mask turns the output float64", FUNCTIONAL,
            "    return x * Tensor(scale.astype(x.dtype))\n", "    return x * Tensor(scale)\n"),
    Planted("2.7", "softmax shifts its input in place", FUNCTIONAL,
            "        exps = np.exp(x - x.max(axis=dim, keepdims=True))\n",
            "        x -= x.max(axis=dim, keepdims=True)  # for stability\n        exps = np.exp(x)\n"),
    Planted("2.8", "cross_entropy shifts the caller's logits in place", FUNCTIONAL,
            "    return nll_loss(log_softmax(logits, dim=1), target, weight=weight, reduction=reduction)\n",
            "    logits.data -= logits.data.max(axis=1, keepdims=True)  # shift for stability\n"
            "    return nll_loss(log_softmax(logits, dim=1), target, weight=weight, reduction=reduction)\n"),
    Planted("2.8", "cross_entropy as nll_loss(log(softmax(x))): inf for huge logits", FUNCTIONAL,
            "    return nll_loss(log_softmax(logits, dim=1), target, weight=weight, reduction=reduction)\n",
            "    return nll_loss(softmax(logits, dim=1).log(), target, weight=weight, reduction=reduction)\n"),
    Planted("2.8", "mse_loss lets (N, 1) and (N,) broadcast to (N, N)", FUNCTIONAL,
            "    if prediction.shape != target.shape:\n        raise ValueError(\n", "    if False:\n        raise ValueError(\n"),
]  # fmt: skip

OPTIM = "optim.py"
CHAPTER_03 = [
    Planted("3.1", "the defaults override a group's own options", OPTIM,
            "            group.setdefault(name, default)\n", "            group[name] = default\n",
            frozenset({"3.2", "3.3", "3.4", "3.5"})),
    Planted("3.1", "a parameter may join a second group", OPTIM,
            "taken = {id(param) for other in self.param_groups for param in other[\"params\"]}",
            "taken = set()"),
    Planted("3.1", "zero_grad(set_to_none=False) replaces the array", OPTIM,
            "param.grad.fill(0)", "param.grad = np.zeros_like(param.grad)"),
    Planted("3.2", "dampening applied on the first step (a buffer started at zero)", OPTIM,
            "buf = state[\"momentum_buffer\"] = grad.copy()",
            "buf = state[\"momentum_buffer\"] = (1 - dampening) * grad"),
    Planted("3.2", "Nesterov steps along the buffer, not g + momentum * b", OPTIM,
            "grad = grad + momentum * buf if group[\"nesterov\"] else buf", "grad = buf"),
    Planted("3.2", "the momentum buffer aliases .grad (no copy)", OPTIM,
            "buf = state[\"momentum_buffer\"] = grad.copy()",
            "buf = state[\"momentum_buffer\"] = grad"),
    Planted("3.3", "Adam without bias correction", OPTIM,
            "        bias_correction1 = 1 - beta1**step\n        bias_correction2 = 1 - beta2**step\n",
            "        bias_correction1 = bias_correction2 = 1.0\n", frozenset({"3.4"})),
    Planted("3.3", "amsgrad keeps the max of the bias-corrected v (max after the division)", OPTIM,
            "            np.maximum(state[\"max_exp_avg_sq\"], exp_avg_sq, out=state[\"max_exp_avg_sq\"])\n"
            "            exp_avg_sq = state[\"max_exp_avg_sq\"]\n",
            "            corrected = exp_avg_sq / (1 - beta2**step)\n"
            "            np.maximum(state[\"max_exp_avg_sq\"], corrected, out=state[\"max_exp_avg_sq\"])\n"
            "            exp_avg_sq = state[\"max_exp_avg_sq\"] * (1 - beta2**step)\n",
            frozenset({"3.4"})),
    Planted("3.3", "eps inside the square root", OPTIM,
            "denom = np.sqrt(exp_avg_sq) / math.sqrt(bias_correction2) + group[\"eps\"]",
            "denom = np.sqrt(exp_avg_sq / bias_correction2 + group[\"eps\"])", frozenset({"3.4"})),
    Planted("3.4", "AdamW decays through the gradient (L2, as Adam)", OPTIM,
            "            param.data *= 1 - group[\"lr\"] * group[\"weight_decay\"]\n        return grad\n",
            "            return grad + group[\"weight_decay\"] * param.data\n        return grad\n"),
    Planted("3.4", "AdamW's decay factor forgets the learning rate", OPTIM,
            "param.data *= 1 - group[\"lr\"] * group[\"weight_decay\"]",
            "param.data *= 1 - group[\"weight_decay\"]"),
    Planted("3.5", "state_dict hands out the live state", OPTIM,
            "index[id(param)]: copy.deepcopy(param_state)", "index[id(param)]: param_state"),
    Planted("3.5", "parameters numbered from 0 again in every group", OPTIM,
            "[index.setdefault(id(param), len(index)) for param in group[\"params\"]]",
            "[index.setdefault(id(param), i) for i, param in enumerate(group[\"params\"])]"),
    Planted("3.5", "load_state_dict does not restore the step count", OPTIM,
            "                    restored[name] = copy.deepcopy(value)\n", "                    pass\n"),
    Planted("3.5", "load_state_dict keeps the loaded arrays (no copy, no cast)", OPTIM,
            "restored[name] = np.array(value, dtype=dtype)  # a copy", "restored[name] = value"),
    Planted("3.5", "load_state_dict keeps the optimizer's own options", OPTIM,
            "**{name: copy.deepcopy(value) for name, value in saved.items() if name != \"params\"},",
            "**{name: value for name, value in group.items() if name != \"params\"},"),
    Planted("3.6", "a scheduler steps from the wrong epoch (get_lr before the increment)", OPTIM,
            "        self.last_epoch += 1\n        rates = self.get_lr()\n",
            "        rates = self.get_lr()\n        self.last_epoch += 1\n"),
    Planted("3.6", "MultiStepLR decays one epoch late (bisect_left)", OPTIM,
            "bisect.bisect_right(", "bisect.bisect_left("),
    Planted("3.6", "LinearLR keeps changing after total_iters", OPTIM,
            "progress = min(self.last_epoch, self.total_iters) / self.total_iters",
            "progress = self.last_epoch / self.total_iters"),
    Planted("3.6", "cosine annealing ignores eta_min", OPTIM,
            "return [self.eta_min + (base - self.eta_min) * cosine for base in self.base_lrs]",
            "return [base * cosine for base in self.base_lrs]"),
    Planted("3.7", "clip_grad_norm_ clips each gradient by its own norm", OPTIM,
            "    clip_coef = max_norm / (total + 1e-6)\n    if clip_coef < 1:\n"
            "        for grad in grads:\n            grad *= clip_coef\n",
            "    for grad, norm in zip(grads, norms):\n        clip_coef = max_norm / (norm + 1e-6)\n"
            "        if clip_coef < 1:\n            grad *= clip_coef\n"),
    Planted("3.7", "the total norm is the sum of the norms", OPTIM,
            "total = np.linalg.norm(np.asarray(norms), ord=norm_type)", "total = sum(norms)"),
    Planted("3.7", "gradients below max_norm are scaled up", OPTIM,
            "    if clip_coef < 1:\n        for grad in grads:\n            grad *= clip_coef\n",
            "    for grad in grads:\n        grad *= clip_coef\n"),
    Planted("3.7", "clip_grad_value_ returns new arrays instead of clipping in place", OPTIM,
            "np.clip(param.grad, -clip_value, clip_value, out=param.grad)",
            "param.grad = np.clip(param.grad, -clip_value, clip_value)"),
]  # fmt: skip

DATA, TRANSFORMS, DATASETS = "data.py", "transforms.py", "datasets.py"
CHAPTER_04 = [
    Planted("4.1", "ConcatDataset finds the dataset with bisect_left", DATA,
            "bisect.bisect_right(self.cumulative_sizes, index)",
            "bisect.bisect_left(self.cumulative_sizes, index)"),
    Planted("4.1", "ConcatDataset does not wrap negative indices", DATA,
            "        if index < 0:\n            index += len(self)\n", ""),
    Planted("4.1", "random_split hands the remainder to the last subsets", DATA,
            "counts[i % len(counts)] += 1", "counts[-1 - i % len(counts)] += 1"),
    Planted("4.1", "Subset indexes the dataset directly", DATA,
            "return self.dataset[self.indices[index]]", "return self.dataset[index]"),
    Planted("4.2", "RandomSampler draws its permutation once, in __init__", DATA,
            "        self.generator = generator\n\n    def __iter__(self) -> Iterator[int]:\n"
            "        generator = self.generator or default_generator()\n"
            "        return iter(generator.permutation(len(self.data_source)).tolist())\n",
            "        generator = generator or default_generator()\n"
            "        self.order = generator.permutation(len(data_source)).tolist()\n\n"
            "    def __iter__(self) -> Iterator[int]:\n        return iter(self.order)\n"),
    Planted("4.2", "BatchSampler always drops the last short batch", DATA,
            "        if batch and not self.drop_last:\n            yield batch\n", ""),
    Planted("4.2", "BatchSampler's len counts one batch too many when n divides evenly", DATA,
            "return full if self.drop_last or rest == 0 else full + 1",
            "return full if self.drop_last else full + 1"),
    Planted("4.3", "default_collate checks int before bool (True is an int)", DATA,
            "    if isinstance(first, (bool, np.bool_)):\n"
            "        return Tensor(np.array(batch, dtype=bool))\n"
            "    if isinstance(first, np.generic):\n"
            "        return Tensor(np.array(batch, dtype=first.dtype))\n"
            "    if isinstance(first, int):\n"
            "        return Tensor(np.array(batch, dtype=np.int64))\n",
            "    if isinstance(first, int):\n"
            "        return Tensor(np.array(batch, dtype=np.int64))\n"
            "    if isinstance(first, (bool, np.bool_)):\n"
            "        return Tensor(np.array(batch, dtype=bool))\n"
            "    if isinstance(first, np.generic):\n"
            "        return Tensor(np.array(batch, dtype=first.dtype))\n"),
    Planted("4.3", "default_collate collates each sample instead of each field", DATA,
            "[default_collate(list(field)) for field in zip(*batch, strict=True)]",
            "[default_collate(list(sample)) for sample in batch]"),
    Planted("4.3", "Python floats collated as float32", DATA,
            "return Tensor(np.array(batch, dtype=np.float64))",
            "return Tensor(np.array(batch, dtype=np.float32))"),
    Planted("4.4", "DataLoader ignores drop_last", DATA,
            "BatchSampler(sampler, batch_size, drop_last)", "BatchSampler(sampler, batch_size, False)"),
    Planted("4.4", "DataLoader's shuffle ignores the generator given", DATA,
            "RandomSampler(dataset, generator)", "RandomSampler(dataset)"),
    Planted("4.5", "ToTensor does not scale uint8 by 1/255", TRANSFORMS,
            "            pixels /= np.float32(255)\n", "            pass\n"),
    Planted("4.5", "ToTensor reshapes (H, W, C) to (C, H, W) instead of transposing", TRANSFORMS,
            "np.transpose(image, (2, 0, 1))",
            "image.reshape(image.shape[2], image.shape[0], image.shape[1])"),
    Planted("4.5", "Normalize divides by the variance", TRANSFORMS,
            "((data - self.mean) / self.std)", "((data - self.mean) / self.std**2)"),
    Planted("4.5", "Normalize works in place on its input", TRANSFORMS,
            "        return Tensor(((data - self.mean) / self.std).astype(np.float32, copy=False))\n",
            "        data -= self.mean\n        data /= self.std\n"
            "        return Tensor(data.astype(np.float32, copy=False))\n"),
    Planted("4.6", "RandomCrop draws left before top", TRANSFORMS,
            "        top = int(generator.integers(0, height - crop_h + 1))\n"
            "        left = int(generator.integers(0, width - crop_w + 1))\n",
            "        left = int(generator.integers(0, width - crop_w + 1))\n"
            "        top = int(generator.integers(0, height - crop_h + 1))\n"),
    Planted("4.6", "RandomCrop pads the channel axis too", TRANSFORMS,
            "pad = [(0, 0)] * (data.ndim - 2) + [(self.padding, self.padding)] * 2",
            "pad = [(self.padding, self.padding)] * data.ndim"),
    Planted("4.6", "RandomCrop returns a view of the image", TRANSFORMS,
            "return Tensor(crop.copy()) if isinstance(image, Tensor) else crop.copy()",
            "return Tensor(crop) if isinstance(image, Tensor) else crop"),
    Planted("4.3", "default_collate leaves mismatched shapes to np.stack (no sample named)", DATA,
            "        for i, array in enumerate(arrays):\n"
            "            if array.shape != arrays[0].shape:\n"
            "                raise ValueError(\n"
            '                    f"default_collate: sample {i} has shape {array.shape}, but sample 0 has "\n'
            '                    f"{arrays[0].shape}; every sample in a batch needs the same shape"\n'
            "                )\n", ""),
    Planted("4.5", "ToTensor leaves bad shapes to np.transpose (the shape is not named)", TRANSFORMS,
            "        if image.ndim not in (2, 3):\n            raise ValueError(\n"
            '                f"ToTensor expects an image of shape (H, W) or (H, W, C), got {image.shape}"\n'
            "            )\n", ""),
    Planted("4.5", "Normalize lets 3 means broadcast over a 1-channel image", TRANSFORMS,
            "        if data.ndim != 3 or self.mean.shape[0] not in (1, data.shape[0]):\n",
            "        if data.ndim != 3:\n"),
    Planted("4.5", "Normalize keeps a float64 image float64", TRANSFORMS,
            "        return Tensor(((data - self.mean) / self.std).astype(np.float32, copy=False))\n",
            "        return Tensor((data - self.mean) / self.std)\n"),
    Planted("4.6", "RandomCrop leaves a too-large crop to generator.integers", TRANSFORMS,
            "        if crop_h > height or crop_w > width:\n            raise ValueError(\n"
            '                f"RandomCrop{self.size} is larger than the (padded) image of size {(height, width)}"\n'
            "            )\n", ""),
    Planted("4.7", "read_idx checks only the first zero byte of the magic number", DATASETS,
            "raw[0] != 0 or raw[1] != 0 or", "raw[0] != 0 or"),
    Planted("4.7", "read_idx reads the sizes little-endian", DATASETS,
            'np.frombuffer(raw, dtype=">u4", count=ndim, offset=4)',
            'np.frombuffer(raw, dtype="<u4", count=ndim, offset=4)'),
    Planted("4.7", "read_idx does not reject trailing data", DATASETS,
            "if len(raw) - header != expected:", "if len(raw) - header < expected:"),
    Planted("4.7", "read_idx keeps the big-endian dtype", DATASETS,
            '        .astype(dtype.newbyteorder("="))\n', ""),
    Planted("4.7", "read_idx turns a missing file into a ValueError", DATASETS,
            "        if isinstance(error, (FileNotFoundError, PermissionError, IsADirectoryError)):\n"
            "            raise\n", ""),
    Planted("4.8", "download_file writes straight into the destination (no .part)", DATASETS,
            'partial = destination.with_name(destination.name + ".part")',
            "partial = destination"),
    Planted("4.8", "download_file renames before checking the checksum", DATASETS,
            "    if digest.hexdigest() != md5:\n        partial.unlink(missing_ok=True)\n"
            '        raise DownloadError(f"{url}: checksum mismatch (MD5 {digest.hexdigest()}, '
            'expected {md5})")\n    os.replace(partial, destination)\n',
            "    os.replace(partial, destination)\n"
            "    if digest.hexdigest() != md5:\n        partial.unlink(missing_ok=True)\n"
            '        raise DownloadError(f"{url}: checksum mismatch (MD5 {digest.hexdigest()}, '
            'expected {md5})")\n'),
    Planted("4.8", "download_file leaves the part file after a network error", DATASETS,
            "        partial.unlink(missing_ok=True)\n        raise DownloadError(f\"{url}: {getattr",
            "        raise DownloadError(f\"{url}: {getattr"),
    Planted("4.8", "download_file trusts the checksum alone (no byte count)", DATASETS,
            "    if announced >= 0 and received != announced:\n", "    if False:\n"),
    Planted("4.8", "download_file lets http.client's errors escape", DATASETS,
            "except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError)",
            "except (urllib.error.URLError, OSError, ValueError)"),
    Planted("4.8", "download_file ignores its timeout", DATASETS,
            "urllib.request.urlopen(url, timeout=timeout)", "urllib.request.urlopen(url)"),
    Planted("4.8", "fetch's error names only the last mirror", DATASETS,
            'tried = "\\n  ".join(errors)', "tried = errors[-1]"),
]  # fmt: skip

CNN, KERNELS = "cnn.py", "kernels.py"
# 5.5 (the matmul kernel, still being tuned) gets its planted bug with the kernel.
CHAPTER_05 = [
    Planted("5.1", "output size misses the + 1", CNN,
            "    return (size + 2 * padding - kernel) // stride + 1\n",
            "    return (size + 2 * padding - kernel) // stride\n",
            frozenset({"5.2", "5.3", "5.7", "5.8"})),
    Planted("5.1", "output size pads one side only", CNN,
            "    return (size + 2 * padding - kernel) // stride + 1\n",
            "    return (size + padding - kernel) // stride + 1\n",
            frozenset({"5.2", "5.3", "5.7", "5.8"})),
    Planted("5.1", "the window is fitted to the unpadded size", CNN,
            "    if kernel > size + 2 * padding:\n", "    if kernel > size:\n",
            frozenset({"5.2", "5.3", "5.7"})),  # 5.7: a kernel larger than the unpadded image
    Planted("5.2", "the kernel is transposed (i and j swapped)", CNN,
            "        out = kernels.fast_matmul(weight.reshape(filters, -1), cols.T)\n",
            "        out = kernels.fast_matmul(weight.transpose(0, 1, 3, 2).reshape(filters, -1), cols.T)\n",
            frozenset({"5.7", "5.8"})),
    Planted("5.2", "im2col pads one extra row and column at the top left", CNN,
            "    padded = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))\n",
            "    padded = np.pad(x, ((0, 0), (0, 0), (padding + 1, padding), (padding + 1, padding)))\n"),
    Planted("5.3", "grad_weight from the wrong product (cols^T g)", CNN,
            "        grad_weight = kernels.fast_matmul(g_t, cols_t.T).reshape(weight.shape)\n",
            "        grad_weight = kernels.fast_matmul(cols_t, g_t.T).reshape(weight.shape)\n",
            frozenset({"5.7", "5.8"})),
    Planted("5.3", "col2im assigns instead of adding", CNN,
            "stride] += (\n", "stride] = (\n"),
    Planted("5.4", "an all -inf window's argmax left at -1: its gradient lands on the last pixel", KERNELS,
            "                best, where = -np.inf, max(top, 0) * w + max(left, 0)\n",
            "                best, where = -np.inf, -1\n"),
    Planted("5.4", "max-pool ties routed to every tied position", CNN,
            "        out, argmax = kernels.max_pool2d_forward(x, kernel, stride, padding)\n"
            "        ctx.save_for_backward(argmax)\n"
            "        ctx.input_hw = x.shape[2:]\n"
            "        return out\n"
            "\n"
            "    @staticmethod\n"
            "    def backward(ctx: Context, grad_output: np.ndarray) -> tuple:\n"
            "        (argmax,) = ctx.saved_tensors\n"
            "        height, width = ctx.input_hw\n"
            "        return kernels.max_pool2d_backward(grad_output, argmax, height, width), None, None, None\n",
            "        out, _ = kernels.max_pool2d_forward(x, kernel, stride, padding)\n"
            "        ctx.save_for_backward(x, out)\n"
            "        ctx.window = (kernel, stride, padding)\n"
            "        return out\n"
            "\n"
            "    @staticmethod\n"
            "    def backward(ctx: Context, grad_output: np.ndarray) -> tuple:\n"
            "        x, out = ctx.saved_tensors  # every position equal to the max gets the gradient\n"
            "        kernel, stride, p = ctx.window\n"
            "        padded = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)), constant_values=-np.inf)\n"
            "        grad = np.zeros_like(padded)\n"
            "        for oy in range(out.shape[2]):\n"
            "            for ox in range(out.shape[3]):\n"
            "                rows = slice(oy * stride, oy * stride + kernel)\n"
            "                cols = slice(ox * stride, ox * stride + kernel)\n"
            "                winners = padded[:, :, rows, cols] == out[:, :, oy, ox, None, None]\n"
            "                grad[:, :, rows, cols] += winners * grad_output[:, :, oy, ox, None, None]\n"
            "        return grad[:, :, p : p + x.shape[2], p : p + x.shape[3]], None, None, None\n"),
    Planted("5.4", "max-pool argmax is the last max, not the first", KERNELS,
            "                        if row[xx] > best:", "                        if row[xx] >= best:"),
    Planted("5.6", "kernels.im2col skips the image's last row", KERNELS,
            "                    if 0 <= y < h:\n                        for j in range(kernel_w):",
            "                    if 0 <= y < h - 1:\n                        for j in range(kernel_w):"),
    Planted("5.6", "kernels.col2im writes instead of adding", KERNELS,
            "grad[b, ch, y, xx] += cols[", "grad[b, ch, y, xx] = cols["),
    Planted("5.6", "kernels.im2col runs its column offsets over kernel_h (right for square kernels)",
            KERNELS,
            "                        for j in range(kernel_w):\n"
            "                            xx = ox * stride - padding + j\n"
            "                            if 0 <= xx < w:\n                                cols[",
            "                        for j in range(kernel_h):\n"
            "                            xx = ox * stride - padding + j\n"
            "                            if 0 <= xx < w:\n                                cols["),
    Planted("5.6", "kernels.col2im runs one task per output row: overlapping windows race", KERNELS,
            "    for b in prange(n):\n"
            "        for oy in range(out_h):\n"
            "            for ox in range(out_w):\n"
            "                row = (b * out_h + oy) * out_w + ox\n"
            "                for ch in range(c):\n"
            "                    for i in range(kernel_h):\n"
            "                        y = oy * stride - padding + i\n"
            "                        if 0 <= y < h:\n"
            "                            for j in range(kernel_w):\n"
            "                                xx = ox * stride - padding + j\n"
            "                                if 0 <= xx < w:\n"
            "                                    grad[b, ch, y, xx] += cols[\n"
            "                                        row, (ch * kernel_h + i) * kernel_w + j\n"
            "                                    ]\n",
            "    for image_row in prange(n * out_h):  # one task per output row, as in im2col\n"
            "        b, oy = image_row // out_h, image_row % out_h\n"
            "        for ox in range(out_w):\n"
            "            row = image_row * out_w + ox\n"
            "            for ch in range(c):\n"
            "                for i in range(kernel_h):\n"
            "                    y = oy * stride - padding + i\n"
            "                    if 0 <= y < h:\n"
            "                        for j in range(kernel_w):\n"
            "                            xx = ox * stride - padding + j\n"
            "                            if 0 <= xx < w:\n"
            "                                grad[b, ch, y, xx] += cols[row, (ch * kernel_h + i) * kernel_w + j]\n"),
    Planted("5.4", "max_pool2d_backward runs one task per output row: overlapping windows race",
            KERNELS,
            "    for plane in prange(n * c):\n"
            "        b, ch = plane // c, plane % c\n"
            "        upstream, winner_of, target = grad_output[b, ch], argmax[b, ch], grad[b, ch]\n"
            "        for oy in range(out_h):\n"
            "            for ox in range(out_w):\n"
            "                target[winner_of[oy, ox]] += upstream[oy, ox]\n",
            "    for row in prange(n * c * out_h):  # one task per output row\n"
            "        b, ch, oy = row // (c * out_h), (row // out_h) % c, row % out_h\n"
            "        upstream, winner_of, target = grad_output[b, ch], argmax[b, ch], grad[b, ch]\n"
            "        for ox in range(out_w):\n"
            "            target[winner_of[oy, ox]] += upstream[oy, ox]\n"),
    Planted("5.2", "im2col's column offsets run over kernel_h (right for square kernels)", CNN,
            "    for i in range(kernel_h):\n        for j in range(kernel_w):\n            cols[:, :, i, j]",
            "    for i in range(kernel_h):\n        for j in range(kernel_h):\n            cols[:, :, i, j]"),
    Planted("5.7", "Conv2d draws the bias before the weight", CNN,
            "        init.kaiming_uniform_(self.weight, a=math.sqrt(5))\n"
            "        if self.bias is not None:\n"
            "            fan_in, _ = init.fan_in_and_fan_out(self.weight)\n"
            "            init.uniform_(self.bias, -1 / math.sqrt(fan_in), 1 / math.sqrt(fan_in))\n",
            "        if self.bias is not None:\n"
            "            fan_in, _ = init.fan_in_and_fan_out(self.weight)\n"
            "            init.uniform_(self.bias, -1 / math.sqrt(fan_in), 1 / math.sqrt(fan_in))\n"
            "        init.kaiming_uniform_(self.weight, a=math.sqrt(5))\n",
            frozenset({"5.8"})),
    Planted("5.5", "the matmul kernel skips the columns left of a whole tile", KERNELS,
            "                for j in range(j_tiles, j1):\n                    for r in range(ROWS):\n",
            "                for j in range(j_tiles, j_tiles):\n                    for r in range(ROWS):\n"),
    Planted("5.5", "the matmul kernel does not clear C before adding into it", KERNELS,
            "                c[i, j] = 0\n", "                pass\n"),
    Planted("5.5", "the matmul kernel runs one task per step of the shared dimension (a race)",
            KERNELS,
            "    for task in prange(row_blocks * panels):\n        i0, j0 =",
            "    c[:, :] = 0\n"
            "    for p in prange(k):  # one task per step of k: every task adds into all of C\n"
            "        for i in range(m):\n"
            "            for j in range(n):\n"
            "                c[i, j] += a[i, p] * bt[j, p]\n"
            "    for task in range(0):\n        i0, j0 ="),
    Planted("5.7", "conv2d does not check the channels", CNN,
            "    if input.shape[1] != weight.shape[1]:\n        raise ValueError(\n"
            '            f"Given groups=1, weight of size {list(weight.shape)}, expected input{list(input.shape)} "\n'
            '            f"to have {weight.shape[1]} channels, but got {input.shape[1]} channels instead"\n'
            "        )\n", ""),
    Planted("5.7", "max_pool2d's stride defaults to 1", CNN,
            "input, kernel_size, kernel_size if stride is None else stride, padding",
            "input, kernel_size, 1 if stride is None else stride, padding"),
    Planted("5.7", "conv2d refuses a kernel exactly the padded size (>= for >)", CNN,
            "if weight.shape[2] > padded[0] or weight.shape[3] > padded[1]:",
            "if weight.shape[2] >= padded[0] or weight.shape[3] >= padded[1]:"),
    Planted("5.4", "max-pool checks that the window fits the height only", CNN,
            "        conv_output_size(x.shape[3], kernel, stride, padding)\n", ""),
    Planted("5.8", "the original tutorial's flatten size 64 * 6 * 6", CNN,
            "self.fc1 = Linear(64 * 7 * 7, 128)", "self.fc1 = Linear(64 * 6 * 6, 128)"),
    Planted("5.8", "no ReLU after fc1", CNN,
            "return self.fc2(F.relu(self.fc1(x)))", "return self.fc2(self.fc1(x))"),
    Planted("5.9", "train_epoch never zeroes the gradients", CNN,
            "        optimizer.zero_grad()\n", ""),
    Planted("5.9", "mean loss and accuracy averaged over batches, not samples", CNN,
            "        total_loss += loss.item() * len(labels)\n"
            "        correct += int((scores.data.argmax(axis=1) == np.asarray(_raw(labels))).sum())\n"
            "        seen += len(labels)\n",
            "        total_loss += loss.item()\n"
            "        correct += float((scores.data.argmax(axis=1) == np.asarray(_raw(labels))).mean())\n"
            "        seen += 1\n"),
    Planted("5.9", "evaluate without model.eval()", CNN, "    model.eval()\n", ""),
    Planted("5.9", "evaluate records the graph (no no_grad)", CNN,
            "    with no_grad():\n", "    if True:  # forgot no_grad()\n"),
]  # fmt: skip

GPU = "gpu.py"
CHAPTER_05_GPU = [
    Planted("5.10", "scale_add rounds the number of blocks down", GPU,
            "    blocks = _blocks(x.shape[0])\n", "    blocks = max(1, x.shape[0] // THREADS)\n"),
    Planted("5.10", "no guard: threads past the end write out of bounds", GPU,
            "    if i < out.shape[0]:\n        out[i] = alpha * x[i] + y[i]\n",
            "    out[i] = alpha * x[i] + y[i]\n"),
    Planted("5.11", "the grid-stride loop strides by one block, adding elements twice", GPU,
            "range(cuda.grid(1), x.shape[0], cuda.gridsize(1))",
            "range(cuda.grid(1), x.shape[0], cuda.blockDim.x)"),
    Planted("5.11", "the tree starts at a quarter, dropping half the sums", GPU,
            "    half = THREADS // 2\n    while half > 0:\n        if t < half:\n"
            "            sums[t] += sums[t + half]\n",
            "    half = THREADS // 4\n    while half > 0:\n        if t < half:\n"
            "            sums[t] += sums[t + half]\n"),
    Planted("5.12", "two shared arrays declared on one line (they alias in the simulator)", GPU,
            "    a_tile = cuda.shared.array((TILE, TILE), float32)\n"
            "    b_tile = cuda.shared.array((TILE, TILE), float32)\n",
            "    a_tile, b_tile = cuda.shared.array((TILE, TILE), float32), cuda.shared.array((TILE, TILE), float32)\n"),
    Planted("5.12", "rows taken from blockIdx.x, columns from blockIdx.y", GPU,
            "    row = cuda.blockIdx.y * TILE + ty\n    col = cuda.blockIdx.x * TILE + tx\n",
            "    row = cuda.blockIdx.x * TILE + ty\n    col = cuda.blockIdx.y * TILE + tx\n"),
    Planted("5.12", "b's tile stored transposed", GPU,
            "        b_tile[ty, tx] = b[start + ty, col]", "        b_tile[tx, ty] = b[start + ty, col]"),
    Planted("5.13", "the kernel ignores the padding", GPU,
            "            y = oy * stride - padding + p\n            if 0 <= y < height:\n",
            "            y = oy * stride + p\n            if 0 <= y < height:\n"),
    Planted("5.13", "the bias left out", GPU,
            "    total = bias[f]\n    for c in range(channels):\n",
            "    total = float32(0)\n    for c in range(channels):\n"),
    Planted("5.13", "the kernel's columns run over weight.shape[2] (right for square kernels)", GPU,
            "                for q in range(weight.shape[3]):\n                    xx = ox * stride - padding + q\n"
            "                    if 0 <= xx < width:\n                        total += weight[f, c, p, q] * x[n, c, y, xx]\n",
            "                for q in range(weight.shape[2]):\n                    xx = ox * stride - padding + q\n"
            "                    if 0 <= xx < width:\n                        total += weight[f, c, p, q] * x[n, c, y, xx]\n"),
    Planted("5.13", "no guard: threads past the last output element index out of bounds", GPU,
            "    if i >= n_images * filters * out_h * out_w:\n        return\n    ox = i % out_w\n",
            "    ox = i % out_w\n"),
    Planted("5.11", "syncthreads inside the if: threads t >= half never reach it", GPU,
            "            sums[t] += sums[t + half]\n        cuda.syncthreads()\n",
            "            sums[t] += sums[t + half]\n            cuda.syncthreads()\n"),
    Planted("5.11", "threads with nothing left to add return before the next barrier", GPU,
            "    while half > 0:\n        if t < half:\n            sums[t] += sums[t + half]\n",
            "    while half > 0:\n        if t >= half:\n            return  # nothing left to add\n"
            "        sums[t] += sums[t + half]\n"),
    Planted("5.12", "threads outside c return before the tiles' barriers", GPU,
            "    total = float32(0)\n    for start in range(0, k, TILE):\n",
            "    total = float32(0)\n    if row >= m or col >= n:\n        return  # no element of c here\n"
            "    for start in range(0, k, TILE):\n"),
    Planted("5.10", "scale_add writes its result into y", GPU,
            "    out = cuda.device_array(x.shape, dtype=np.float32)\n    blocks = _blocks(x.shape[0])\n"
            "    scale_add_kernel[blocks, THREADS](\n        np.float32(alpha), _as_float32(x, \"x\"), _as_float32(y, \"y\"), out\n"
            "    )\n    return out.copy_to_host()\n",
            "    out = _as_float32(y, \"y\")  # y's memory, reused for the result\n    blocks = _blocks(x.shape[0])\n"
            "    scale_add_kernel[blocks, THREADS](np.float32(alpha), _as_float32(x, \"x\"), out, out)\n"
            "    return out\n"),
]  # fmt: skip

MULTITASK = "multitask.py"
CHAPTER_06 = [
    Planted("6.1", "heads kept in a plain dict: their parameters are hidden", MULTITASK,
            "        self.heads = ModuleDict(heads)\n", "        self.heads = dict(heads)\n",
            frozenset({"6.6"})),
    Planted("6.1", "every head after the first gets the input, not the trunk's features", MULTITASK,
            "        return {task: head(features) for task, head in self.heads.items()}\n",
            "        tasks = list(self.heads.items())\n"
            "        return {task: head(features if i == 0 else x) for i, (task, head) in enumerate(tasks)}\n",
            frozenset({"6.6"})),
    Planted("6.2", "the image turned the wrong way", MULTITASK,
            "    source_y = cy + (y - cy) * cos + (x - cx) * sin\n    source_x = cx - (y - cy) * sin + (x - cx) * cos\n",
            "    source_y = cy + (y - cy) * cos - (x - cx) * sin\n    source_x = cx + (y - cy) * sin + (x - cx) * cos\n"),
    Planted("6.2", "one generator for all samples: angles depend on the reading order", MULTITASK,
            "        generator = np.random.default_rng([self.seed, index])\n",
            "        self._generator = getattr(self, '_generator', np.random.default_rng(self.seed))\n"
            "        generator = self._generator\n"),
    Planted("6.3", "the weights are ignored", MULTITASK,
            "total = sum((self.weights[task] * loss for task, loss in parts.items()), tensor(0.0))",
            "total = sum((loss for task, loss in parts.items()), tensor(0.0))", frozenset({"6.6"})),
    Planted("6.3", "a missing target is not checked (a raw KeyError from deep inside, or worse)", MULTITASK,
            "        check_tasks(type(self).__name__, outputs, targets, \"the targets\")\n"
            "        return {task: self.losses[task](outputs[task], targets[task]) for task in outputs}\n",
            "        return {task: self.losses[task](outputs[task], targets.get(task, outputs[task].detach())) for task in outputs}\n"),
    Planted("6.4", "the uncertainty loss misses its regulariser", MULTITASK,
            "            total = total + scale * exp(-s) * parts[task] + 0.5 * s\n",
            "            total = total + scale * exp(-s) * parts[task]\n"),
    Planted("6.4", "regression and classification forms swapped", MULTITASK,
            "            scale = 0.5 if kind == \"regression\" else 1.0\n",
            "            scale = 0.5 if kind == \"classification\" else 1.0\n"),
    Planted("6.5", "the rate inverted (earlier over later)", MULTITASK,
            "rates = np.array([last[task] / before[task] for task in self.tasks])",
            "rates = np.array([before[task] / last[task] for task in self.tasks])"),
    Planted("6.5", "no shift before exp: overflow at low temperatures", MULTITASK,
            "scaled = np.exp((rates - rates.max()) / self.temperature)",
            "scaled = np.exp(rates / self.temperature)"),
    Planted("6.1", "the heads get the features rebuilt from .data (the trunk never learns)", MULTITASK,
            "        features = self.trunk(x)\n", "        features = Tensor(self.trunk(x).data)\n",
            frozenset({"6.6"})),
    Planted("6.2", "rotate returns float64", MULTITASK,
            "    return out.astype(image.dtype)\n", "    return out\n"),
    Planted("6.4", "log_vars a plain Tensor, not a Parameter (never trained)", MULTITASK,
            "        self.log_vars = Parameter(np.zeros(len(self.kinds), dtype=np.float32))\n",
            "        self.log_vars = Tensor(np.zeros(len(self.kinds), dtype=np.float32), requires_grad=True)\n"),
    Planted("6.4", "log_vars start at one", MULTITASK,
            "        self.log_vars = Parameter(np.zeros(len(self.kinds), dtype=np.float32))\n",
            "        self.log_vars = Parameter(np.ones(len(self.kinds), dtype=np.float32))\n"),
    Planted("6.5", "end_epoch keeps the caller's dict, not its values", MULTITASK,
            "        self.history.append({task: float(mean_losses[task]) for task in self.tasks})\n",
            "        self.history.append(mean_losses)\n"),
    Planted("6.6", "train_epoch never zeroes the gradients", MULTITASK,
            "        optimizer.zero_grad()\n", ""),
    Planted("6.6", "evaluate records the graph (no no_grad)", MULTITASK,
            "    with no_grad():\n", "    if True:  # forgot no_grad()\n"),
    Planted("6.6", "evaluate stays in training mode", MULTITASK, "    model.eval()\n", ""),
]  # fmt: skip

DISTRIBUTED = "distributed.py"
CHAPTER_07 = [
    Planted("7.1", "broadcast always from rank 0", DISTRIBUTED,
            "    _group().Bcast(_buffer(tensor), root=src)\n", "    _group().Bcast(_buffer(tensor), root=0)\n"),
    Planted("7.1", "broadcast hands MPI the Tensor, not its array", DISTRIBUTED,
            "    _group().Bcast(_buffer(tensor), root=src)\n", "    _group().Bcast(tensor, root=src)\n",
            frozenset({"7.5"})),
    Planted("7.1", "all_gather replaces the list's entries instead of filling them", DISTRIBUTED,
            "    for out, part in zip(tensor_list, gathered, strict=True):\n        _buffer(out)[...] = part\n",
            "    tensor_list[:] = list(gathered)\n"),
    Planted("7.2", "the ring skips its last reduce-scatter step", DISTRIBUTED,
            "    for step in range(size - 1):\n        outgoing, incoming = chunk(rank - step), chunk(rank - step - 1)\n",
            "    for step in range(size - 2):\n        outgoing, incoming = chunk(rank - step), chunk(rank - step - 1)\n",
            frozenset({"7.3"})),
    Planted("7.2", "chunks of n // P elements: the last n mod P are never reduced", DISTRIBUTED,
            "return [c * length // parts for c in range(parts + 1)]",
            "return [c * (length // parts) for c in range(parts + 1)]", frozenset({"7.3"})),
    Planted("7.2", "the all-gather receives from the right: every rank waits (a deadlock)", DISTRIBUTED,
            "        group.Sendrecv(outgoing, dest=right, recvbuf=incoming, source=left)\n",
            "        group.Sendrecv(outgoing, dest=right, recvbuf=incoming, source=right)\n",
            frozenset({"7.3"})),
    Planted("7.3", "the mean is the sum (not divided by P)", DISTRIBUTED,
            '    divide_by = group.Get_size() if op == "mean" else 1\n', "    divide_by = 1\n",
            frozenset({"7.5"})),
    Planted("7.3", "MPI's all-reduce into a new array: the caller's is unchanged", DISTRIBUTED,
            "        request = group.Iallreduce(MPI.IN_PLACE, array, op=MPI.SUM)\n",
            "        array = group.allreduce(array, op=MPI.SUM)  # a new array\n        request = None\n",
            frozenset({"7.5", "7.6"})),
    Planted("7.3", "a second wait() divides the mean again", DISTRIBUTED,
            "            self.array /= self.divide_by\n            self.divide_by = 1\n",
            "            self.array /= self.divide_by\n"),
    Planted("7.4", "each rank shuffles with its own seed: the shards overlap", DISTRIBUTED,
            "np.random.default_rng(self.seed + self.epoch)", "np.random.default_rng(self.seed + self.epoch + self.rank)"),
    Planted("7.4", "the padding repeats the last index instead of the first ones", DISTRIBUTED,
            "            order = (order * repeats)[: self.total_size]\n",
            "            order = order + [order[-1]] * (self.total_size - len(order))\n"),
    Planted("7.5", "rank 0's parameters are not broadcast", DISTRIBUTED,
            "        for tensor in [*module.parameters(), *module.buffers()]:\n"
            "            if tensor is not None:\n                broadcast(tensor, src=0)\n", ""),
    Planted("7.5", "backward returns before the buckets are waited on: the step uses each rank's own gradients", DISTRIBUTED,
            "        if all(bucket.work is not None for bucket in self.buckets):\n"
            "            for bucket in self.buckets:\n                bucket.finish()\n", ""),
    Planted("7.5", "buckets packed first layer first: nothing is sent until backward ends", DISTRIBUTED,
            "_pack(parameters[::-1], bucket_cap_mb)", "_pack(parameters, bucket_cap_mb)"),
    Planted("7.5", "the buckets are summed, not averaged", DISTRIBUTED,
            'self.work = all_reduce(self.flat, op="mean", algorithm=algorithm, async_op=True)',
            'self.work = all_reduce(self.flat, op="sum", algorithm=algorithm, async_op=True)'),
    Planted("7.6", "every rank writes the checkpoint", DISTRIBUTED,
            "    if get_rank() == 0:\n        save(state_dict, path)\n", "    save(state_dict, path)\n"),
    Planted("7.6", "no barrier: the other ranks return before the file is written", DISTRIBUTED,
            "        save(state_dict, path)\n    barrier()\n", "        save(state_dict, path)\n"),
    Planted("7.6", "the mean of the ranks' means", DISTRIBUTED,
            "    totals = np.array([float(sums[name]) for name in names] + [float(count)])\n",
            "    totals = np.array([float(sums[name]) / max(count, 1) for name in names] + [1.0])\n"),
]  # fmt: skip

PLANTED = (
    CHAPTER_01
    + CHAPTER_02
    + CHAPTER_03
    + CHAPTER_04
    + CHAPTER_05
    + CHAPTER_05_GPU
    + CHAPTER_06
    + CHAPTER_07
)

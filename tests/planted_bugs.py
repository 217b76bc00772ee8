"""Realistic mistakes, each planted in a copy of the answer key to prove a grader catches it.

Each entry: the exercise that must FAIL (or ERROR), a name that says what is wrong,
the chapter file, the line as the answer key has it, and the line with the mistake.
"""

from __future__ import annotations

from tests.workspace import Planted

AUTOGRAD = "autograd.py"
CHAPTER_01 = [
    Planted("1.1", "Python floats stay float64", AUTOGRAD,
            "                array = array.astype(DEFAULT_FLOAT)\n", "                pass\n",
            frozenset({"1.2", "1.3", "1.9"})),
    Planted("1.1", "Tensor copies NumPy arrays", AUTOGRAD,
            "            array = np.asarray(data)\n", "            array = np.array(data)\n"),
    Planted("1.2", "graph recorded under no_grad", AUTOGRAD,
            "if is_grad_enabled() and any(", "if any(", frozenset({"1.9"})),
    Planted("1.2", "forward receives Tensors", AUTOGRAD,
            "cls.forward(ctx, *(_raw(arg) for arg in args))", "cls.forward(ctx, *args)",
            frozenset({"1.3", "1.9"})),
    Planted("1.3", "a reused tensor's gradient is overwritten", AUTOGRAD,
            "grads[parent] = grads[parent] + parent_grad if parent in grads else parent_grad",
            "grads[parent] = parent_grad", frozenset({"1.9"})),
    Planted("1.3", "leaf gradients overwritten across backward calls", AUTOGRAD,
            "node.grad = node_grad.copy() if node.grad is None else node.grad + node_grad",
            "node.grad = node_grad.copy()"),
    Planted("1.3", "breadth-first order: a gradient passed on before all consumers added theirs",
            AUTOGRAD, "        node, parents_done = stack.pop()\n",
            "        node, parents_done = stack.pop(0)\n", frozenset({"1.9"})),
    Planted("1.4", "Sub forgets to unbroadcast", AUTOGRAD,
            "return unbroadcast(grad_output, a_shape), unbroadcast(-grad_output, b_shape)",
            "return grad_output, -grad_output"),
    Planted("1.4", "Div's gradient for b has the wrong sign", AUTOGRAD,
            "grad_b = -grad_output * a / (b * b)", "grad_b = grad_output * a / (b * b)"),
    Planted("1.4", "unbroadcast ignores stretched size-1 axes", AUTOGRAD,
            "    return np.asarray(grad.sum(axis=stretched, keepdims=True))",
            "    return np.asarray(grad)", frozenset({"1.8"})),  # MatMul uses unbroadcast
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
            frozenset({"5.2", "5.3"})),
    Planted("5.2", "the kernel is transposed (i and j swapped)", CNN,
            "        out = kernels.matmul(cols, weight.reshape(filters, -1).T)\n",
            "        out = kernels.matmul(cols, weight.transpose(0, 1, 3, 2).reshape(filters, -1).T)\n",
            frozenset({"5.7", "5.8"})),
    Planted("5.2", "im2col pads one extra row and column at the top left", CNN,
            "    padded = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))\n",
            "    padded = np.pad(x, ((0, 0), (0, 0), (padding + 1, padding), (padding + 1, padding)))\n"),
    Planted("5.3", "grad_weight from the wrong product (cols^T g)", CNN,
            "        grad_weight = kernels.matmul(g.T, cols).reshape(weight.shape)\n",
            "        grad_weight = kernels.matmul(cols.T, g).reshape(weight.shape)\n",
            frozenset({"5.7", "5.8"})),
    Planted("5.3", "col2im assigns instead of adding", CNN,
            "stride] += (\n", "stride] = (\n"),
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
            "if 0 <= xx < w and x[b, ch, y, xx] > best:", "if 0 <= xx < w and x[b, ch, y, xx] >= best:"),
    Planted("5.6", "kernels.im2col skips the image's last row", KERNELS,
            "                    if 0 <= y < h:\n                        for j in range(kernel_w):",
            "                    if 0 <= y < h - 1:\n                        for j in range(kernel_w):",
            frozenset({"5.2", "5.3", "5.7", "5.8"})),
    Planted("5.6", "kernels.col2im writes instead of adding", KERNELS,
            "grad[b, ch, y, xx] += cols[", "grad[b, ch, y, xx] = cols[",
            frozenset({"5.3", "5.7", "5.8"})),
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
            "                for j in range(j_tiles, j_tiles):\n                    for r in range(ROWS):\n",
            frozenset({"5.2", "5.3", "5.7", "5.8"})),  # the answer key's conv and fc1 use matmul
    Planted("5.5", "the matmul kernel does not clear C before adding into it", KERNELS,
            "                c[i, j] = 0\n", "                pass\n", frozenset({"5.2", "5.3", "5.7", "5.8"})),
    Planted("5.7", "conv2d does not check the channels", CNN,
            "    if input.shape[1] != weight.shape[1]:\n        raise ValueError(\n"
            '            f"Given groups=1, weight of size {list(weight.shape)}, expected input{list(input.shape)} "\n'
            '            f"to have {weight.shape[1]} channels, but got {input.shape[1]} channels instead"\n'
            "        )\n", ""),
    Planted("5.7", "max_pool2d's stride defaults to 1", CNN,
            "input, kernel_size, kernel_size if stride is None else stride, padding",
            "input, kernel_size, 1 if stride is None else stride, padding"),
    Planted("5.8", "the seed's flatten size 64 * 6 * 6", CNN,
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
    Planted("5.12", "b's tile stored transposed", GPU,
            "        b_tile[ty, tx] = b[start + ty, col]", "        b_tile[tx, ty] = b[start + ty, col]"),
    Planted("5.13", "the kernel ignores the padding", GPU,
            "            y = oy * stride - padding + p\n            if 0 <= y < height:\n",
            "            y = oy * stride + p\n            if 0 <= y < height:\n"),
    Planted("5.13", "the bias left out", GPU,
            "    total = bias[f]\n    for c in range(channels):\n",
            "    total = float32(0)\n    for c in range(channels):\n"),
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
    Planted("6.6", "train_epoch never zeroes the gradients", MULTITASK,
            "        optimizer.zero_grad()\n", ""),
    Planted("6.6", "evaluate records the graph (no no_grad)", MULTITASK,
            "    with no_grad():\n", "    if True:  # forgot no_grad()\n"),
    Planted("6.6", "evaluate stays in training mode", MULTITASK, "    model.eval()\n", ""),
]  # fmt: skip

PLANTED = (
    CHAPTER_01 + CHAPTER_02 + CHAPTER_03 + CHAPTER_04 + CHAPTER_05 + CHAPTER_05_GPU + CHAPTER_06
)

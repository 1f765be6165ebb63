"""``optbridge.backends.torch.Optimizer``: a ``torch.optim.Optimizer`` driven by the engine.

See ``docs/backends-torch.md`` for the user guide. The class keeps the template of a
step and the torch surface; each concern has its module:

* :mod:`.naming` — parameters as ``(name, tensor)`` pairs;
* :mod:`.param_groups` — ``param_groups`` as views of the engine's groups and what may be
  written into them;
* :mod:`.units` — the parameters of each bucket by device and dtype, and their state;
* :mod:`.gather` — each unit's gradients, checked before anything changes;
* :mod:`.dispatch` — one unit's update on its path (fused, compiled, reference);
* :mod:`.sharded` — ``DTensor`` parameters (FSDP2): each unit on its shards, or on the
  whole tensors gathered one parameter at a time for the rules that reduce over a tensor;
* :mod:`.zero` — ``ZeroRedundancyOptimizer``: a process's partition, the whole model's groups;
* :mod:`.state_io` — ``state_dict``/``load_state_dict`` in torch's layout, keyed by name.

The rules that matter here:

* The engine (``optbridge.engine.Engine``) owns the step counter and every host scalar;
  :meth:`Optimizer.step` asks it for a plan, runs each bucket on its path, then commits.
* **One home per live value.** ``param_groups[i]['lr']``, the hyperparameters
  (``momentum``, torch's ``betas`` and ``beta1``/``beta2``, ...) and ``weight_decay``
  are read from the engine when read and written into it when written (see
  :mod:`.param_groups`): a torch ``lr_scheduler``, ``OneCycleLR``'s momentum cycling or a
  hand edit takes effect from the next step, checked at the assignment. ``lr`` written
  into a group whose lr is static is ``set_lr(x, group=i)``, a static override that wins
  over the spec's lr from then on; a group whose lr is an optbridge schedule (per-step
  list or Schedule) belongs to the spec, and a torch ``lr_scheduler`` constructed on the
  optimizer, or a different ``lr`` assigned by hand, raises ``StaticLearningRateError``
  right there, naming the group, the schedule and the two fixes. ``momentum`` and the
  betas write through ``Engine.set_hyperparameters`` (a change that would add or drop
  state slots, momentum to or from 0, raises; so does a value a declared
  ``CyclicLR``/``OneCycleLR`` cycles). ``weight_decay`` shows the next step's weight
  decay (a schedule included); it and the other hyperparameters are read-only.
* **State is a value; one transaction.** ``add_param_group``, ``load_state_dict`` and the
  writes into ``param_groups`` are checked in full before anything changes, then applied
  inside one engine transaction (:meth:`Engine.transaction`) that also covers this
  optimizer's groups, state entries and units: they succeed, or parameters, state,
  ``param_groups`` and the engine stay exactly as they were.
"""
from __future__ import annotations

import operator
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, cast

import torch

from optbridge.engine import Engine, OptimizerAPI
from optbridge.errors import BackendError, SpecTypeError, SpecValueError, StepInputError
from optbridge.groups import ParamInfo
from optbridge.scalars import ScalarLayout
from optbridge.spec import OptimizerSpec
from optbridge.transforms.ema import check_averaged
from optbridge.transforms.loss_scale import LossScale, scales_loss
from optbridge.transforms.pipeline import PipelineCall, stateful, transform_slots

from . import ops as torch_ops
from . import state_io
from .dispatch import COMPILE_THRESHOLD, run_unit
from .fast_paths import as_kernel, table
from .gather import Gathered, gather
from .graph import DEFAULT_HORIZON, GraphStep
from .naming import dtype_name, module_roles, named_parameters
from .param_groups import ParamGroup, new_group_spec, with_betas
from .paths import PATHS
from .sharded import check_sharded, is_sharded
from .transforms import after_transform, apply_transform, transform_gradients, unsupported, unsupported_sharded
from .units import LOW_DTYPES, SlotState, Unit, allocate_state, build_units

__all__ = ["Optimizer", "COMPILE_THRESHOLD", "check_parameters"]

_PARAM_DTYPES = (torch.float32, torch.float64)


def check_parameters(named: Sequence[tuple[str, torch.Tensor]], state_dtype: torch.dtype | None) -> None:
    """Each parameter is a leaf of a supported dtype (float16/bfloat16 with ``state_dtype``).

    Raises:
        SpecTypeError: an unsupported dtype. SpecValueError: a low-precision parameter
            without float32 state, or a non-leaf tensor.
    """
    for name, t in named:
        if t.dtype not in _PARAM_DTYPES + LOW_DTYPES:
            raise SpecTypeError(f"parameter {name!r} has dtype {t.dtype}; supported: float32, float64, "
                                f"float16 and bfloat16 (the last two with state_dtype=torch.float32)")
        if t.dtype in LOW_DTYPES and state_dtype is None:
            raise SpecValueError(
                f"parameter {name!r} is {dtype_name(t.dtype)}: pass state_dtype=torch.float32 to keep float32 "
                f"state for it (an explicit option, never a silent cast)")
        if not (t.is_leaf or t.retains_grad):
            raise SpecValueError(f"parameter {name!r} is not a leaf tensor; only leaves can be optimized")


class Optimizer(torch.optim.Optimizer, OptimizerAPI):
    """A ``torch.optim.Optimizer`` that runs a canonical optbridge spec.

    Usually made by ``optbridge.build(spec, model.named_parameters())``; construct it
    directly to choose the path and options.

    Args:
        params: a module (``model``: its ``named_parameters()``, with each parameter's
            role from its module's type, :func:`~optbridge.backends.torch.naming.module_roles`),
            ``model.named_parameters()``, a ``{name: tensor}`` mapping, or tensors /
            torch param groups together with ``names``. ``DTensor`` parameters (a
            ``fully_shard``-ed model) step as the unsharded model's would, bit for bit
            (:mod:`optbridge.backends.torch.sharded`).
        spec: a dialect optimizer (``optim.Adam(...)``, ``nn.Momentum(...)``) or a
            canonical :class:`~optbridge.spec.OptimizerSpec`.
        path: ``"auto"`` (torch's own kernel where the canonical formula is torch's, within
            the conformance tolerances: fused Adam/SGD, ``torch.optim.Muon``'s step; else
            compiled), ``"compiled"`` (the rule compiled, or its exact eager form where it
            does not compile), ``"native"`` (as ``"auto"``, and also a plugin kernel with
            ``FastPath.native_by_default=False``) or ``"reference"`` (eager, per tensor;
            for debugging).
        flat: flat-buffer mode (see :mod:`optbridge.backends.torch.flat`).
        state_dtype: ``None`` (state in the parameter dtype; float16/bfloat16 parameters
            then raise) or ``torch.float32``: float32 state and float32 arithmetic for
            float16/bfloat16 parameters, rounded back into the parameter each step.
        names: a module (or ``{name: tensor}``) naming the tensors when ``params`` holds
            bare tensors, e.g. as ZeroRedundancyOptimizer's ``optimizer_class``; a module
            also gives the parameters' roles. Without a module, ``{"role": ...}``
            selectors use the name/rank fallback (:mod:`optbridge.roles`).
        kernels: ``{algorithm: FastPath or update function}``; default: every registered
            algorithm (:func:`~optbridge.backends.torch.fast_paths.table`).
        compile_threshold: on ``"auto"``/``"native"``, a bucket with fewer elements than
            this runs the eager reference code instead of being compiled: compiling costs
            seconds, and a small bucket's eager step takes microseconds. ``0``: always
            compile. ``"compiled"`` ignores it.
        capturable: ``step()`` inside ``torch.compile`` is traced whole (no graph break:
            ``fullgraph=True`` and CUDA graphs work), its host scalars read from a device
            table of ``horizon`` steps (:mod:`optbridge.backends.torch.graph`). Called
            eagerly, ``step()`` is the usual step. Not with ``flat=True``.
        horizon: with ``capturable=True``, the steps whose host scalars the device table
            holds: at least the number of compiled steps run between two uses of the
            optimizer from the host.
        partition: ``params`` are this process's share of the parameters ``names`` names
            (``ZeroRedundancyOptimizer``'s ``optimizer_class``): the spec's groups resolve
            over all of ``names``, so every process has the same groups (a group with none
            of its parameters here is empty here) and the same host scalars; see
            :mod:`optbridge.backends.torch.zero`.

    Raises:
        SpecTypeError / SpecValueError: bad parameters or options.
        BackendError: no kernel for the algorithm.
        GroupError: the spec's groups do not resolve against the names.
    """

    def __init__(self, params: Any, spec: Any = None, *, path: str = "auto", flat: bool = False,
                 state_dtype: torch.dtype | None = None, names: Any = None,
                 kernels: Mapping[str, Any] | None = None, compile_threshold: int = COMPILE_THRESHOLD,
                 capturable: bool = False, horizon: int = DEFAULT_HORIZON, partition: bool = False):
        if spec is None:
            raise SpecTypeError("Optimizer needs a spec: Optimizer(model.named_parameters(), spec)")
        canonical = spec.to_canonical() if hasattr(spec, "to_canonical") else spec
        if not isinstance(canonical, OptimizerSpec):
            raise SpecTypeError(
                f"spec must be a dialect optimizer or an OptimizerSpec. Received: {type(spec).__name__}"
            )
        if path not in PATHS:
            raise SpecValueError(f"path must be one of {list(PATHS)}. Received: {path!r}")
        if state_dtype is not None and state_dtype is not torch.float32:
            raise SpecValueError(f"state_dtype must be None or torch.float32. Received: {state_dtype!r}")
        if not isinstance(capturable, bool):
            raise SpecTypeError(f"capturable must be a bool. Received: {capturable!r}")
        if capturable and flat:
            raise SpecValueError("capturable=True does not take flat=True: a traced step writes each parameter "
                                 "through the rule, not the flat buffers")
        refusal = unsupported(canonical.transforms, capturable, bool(partition))
        if refusal is not None:
            raise SpecValueError(refusal)
        named = named_parameters(params, names)
        if not named:
            raise SpecValueError("optimizer got an empty parameter list")
        check_parameters(named, state_dtype)
        check_sharded(named, flat=bool(flat), capturable=capturable)
        refusal = unsupported_sharded(canonical.transforms) if any(is_sharded(t) for _, t in named) else None
        if refusal is not None:
            raise SpecValueError(refusal)
        self._kernel_table = {k: as_kernel(k, v) for k, v in (table() if kernels is None else kernels).items()}
        if isinstance(compile_threshold, bool) or not isinstance(compile_threshold, int) or compile_threshold < 0:
            raise SpecValueError(f"compile_threshold must be an int >= 0. Received: {compile_threshold!r}")
        self._path = path
        self._compile_threshold = compile_threshold
        self._flat = bool(flat)
        self._state_dtype = state_dtype
        self._names_arg = names
        self._named_params = dict(named)
        self._graph: GraphStep | None = None
        owner = params if isinstance(params, torch.nn.Module) else names
        roles = module_roles(owner) if isinstance(owner, torch.nn.Module) else {}
        over = None
        if partition:
            if names is None:
                raise SpecValueError("partition=True needs names= (the module or {name: tensor} of every process's "
                                     "parameters): the groups resolve over all of them")
            over = [ParamInfo(n, tuple(t.shape), roles.get(n)) for n, t in named_parameters(names)]
        self._engine = Engine(canonical, [ParamInfo(n, tuple(t.shape), roles.get(n)) for n, t in named],
                              resolve_over=over)
        self._sync_views = self._sync if capturable else None
        self._check_kernels()
        # named groups (torch takes the names from the pairs; a group empty here, partition=True, names none)
        groups = [ParamGroup(self._engine, i, {"params": [(n, self._named_params[n]) for n in g.names],
                                               **({} if g.names else {"param_names": []})},
                             sync=self._sync_views) for i, g in enumerate(self._engine.groups)]
        self._building = True
        torch.optim.Optimizer.__init__(self, groups, self._defaults())
        self._building = False
        self.state = SlotState(dict)
        allocate_state(self.engine, self._named_params, self.state, state_dtype)
        self._units: list[list[Unit]] = self._build_units()
        self._layout: ScalarLayout | None = None
        self._layout_key: tuple[int, ...] = ()
        if capturable:
            self._graph = GraphStep(self._engine, self._named_params, self.state, state_dtype, horizon)

    # -- the engine -------------------------------------------------------------------
    @property
    def engine(self) -> Engine:
        """The engine, caught up with the steps a traced ``step()`` ran on the device since it
        was last used (``capturable=True``)."""
        self._sync()
        return self._engine

    @engine.setter
    def engine(self, value: Engine) -> None:
        raise AttributeError("the engine of a torch backend Optimizer is fixed when it is built")

    def _sync(self) -> None:
        if self._graph is not None and not torch.compiler.is_compiling():
            self._graph.catch_up()

    # -- construction ---------------------------------------------------------------
    def _check_kernels(self) -> None:
        for g in self.engine.groups:
            if g.algorithm.name not in self._kernel_table:
                raise BackendError(f"the torch backend has no kernel for algorithm {g.algorithm.name!r}")

    def _defaults(self) -> dict[str, Any]:
        """torch's ``defaults``: the spec's hyperparameters (with ``betas``) and the first group's lr."""
        defaults = with_betas(self.engine.spec.algorithm.hyperparameters())
        defaults["lr"] = self.engine.get_lr()[0]
        return defaults

    def _build_units(self, groups: Sequence[int] | None = None) -> list[list[Unit]]:
        return build_units(self.engine, self._named_params, self.state, self._kernel_table, path=self._path,
                           flat=self._flat, state_dtype=self._state_dtype, groups=groups)

    @property
    def _views(self) -> list[ParamGroup]:
        """``param_groups`` as what they are: views of the engine's groups."""
        return cast("list[ParamGroup]", self.param_groups)

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """All or nothing over the engine (:meth:`Engine.transaction`) and this optimizer's
        groups (the list and each group's stored keys), parameter names, state entries and units."""
        groups = list(self._views)
        stored = [dict(dict.items(g)) for g in groups]
        named = dict(self._named_params)
        units = list(self._units)
        entries = {id(p) for p in self.state}
        try:
            with self.engine.transaction():
                try:
                    yield
                except BaseException:
                    self.param_groups[:] = groups
                    for group, keys in zip(groups, stored):
                        group.replace_stored(keys, keep=())
                    self._named_params = named
                    self._units = units
                    for p in [p for p in self.state if id(p) not in entries]:
                        del self.state[p]
                    raise
        except BaseException:
            if self._graph is not None:  # the engine is restored: the traced step's tensors follow
                self._graph.bind(named)
            raise

    def _scalar_layout(self) -> ScalarLayout:
        """Where each host scalar of a step lives in the step's packed vector (the scheme every
        backend shares), for the engine's groups as they are now (``add_param_group`` adds one)."""
        key = tuple(map(id, self.engine.groups))
        if self._layout is None or self._layout_key != key:
            self._layout, self._layout_key = ScalarLayout(self.engine), key
        return self._layout

    # -- the step -----------------------------------------------------------------------
    @torch.no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One update from each parameter's ``.grad`` (parameters whose grad is None are skipped).

        Runs eagerly inside a ``torch.compile``'d training step (a graph break): the host
        work of a step (engine scalars, schedules) is Python; each bucket's own update is
        compiled by the optimizer where its path says so. With ``capturable=True`` the
        step is traced into the compiled function instead
        (:mod:`optbridge.backends.torch.graph`).

        Args:
            closure: re-evaluates the model and returns the loss (as in torch.optim).

        Returns:
            The closure's loss, or ``None``.
        """
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        if self._graph is not None and torch.compiler.is_compiling():
            self._graph.run()
            return loss
        self._eager_step()
        return loss

    @torch._disable_dynamo
    def _eager_step(self) -> None:
        """The step with its host work: plan, the gradient pipeline, each unit on its path,
        commit. A stateful pipeline (:class:`optbridge.transforms.PipelineCall`: loss scaling,
        accumulation, an EMA) may end the call before the units run."""
        engine = self.engine
        if len(self.param_groups) != len(engine.groups):
            raise StepInputError(
                f"param_groups has {len(self.param_groups)} groups, the optimizer {len(engine.groups)}; "
                f"add groups with add_param_group")
        self._refuse_grad_scaler()
        gathered = gather(self._units)
        plan = engine.plan()
        layout = self._scalar_layout()
        vector = layout.pack(plan)
        call = None
        if engine.spec.transforms:
            # after everything that may refuse the step: a torch-form global clip writes .grad
            gathered, call = self._transformed(gathered)
        if call is None or call.updated:
            for bs, scalars, units, row in zip(plan.buckets, layout.buckets, self._units, gathered):
                kernel = self._kernel_table[bs.algorithm.name]
                piece = vector[scalars.offset:scalars.offset + scalars.width]
                for unit, (present, grads, layouts_checked) in zip(units, row):
                    if grads:
                        run_unit(unit, bs, present, grads, layouts_checked, kernel=kernel, path=self._path,
                                 compile_threshold=self._compile_threshold, layout=scalars, piece=piece)
            engine.commit(plan)
            if self._graph is not None:
                self._graph.stepped_on_host()
        if call is not None:
            names = engine.param_names
            params = [self._named_params[n] for n in names]
            call.slots = {slot: [self.state[p][slot] for p in params] for slot in call.slots}
            call.after(params, after_transform)
            engine.commit_transforms(call.states)

    def _refuse_grad_scaler(self) -> None:
        """Refuse a ``torch.amp.GradScaler``'s step (it sets ``grad_scale`` / ``found_inf`` on an
        optimizer with ``_step_supports_amp_scaling``, which one whose spec scales the loss has)."""
        scaler_scale = self.__dict__.pop("grad_scale", None)
        found_inf = self.__dict__.pop("found_inf", None)
        if scaler_scale is not None or found_inf is not None:
            listed = [t.describe() for t in self._engine.spec.transforms if isinstance(t, LossScale)]
            raise StepInputError(
                f"this optimizer's spec scales the loss itself ({', '.join(listed)}): step it directly, with "
                f"optimizer.scale_loss(loss).backward(), not through torch.amp.GradScaler (or drop the transform "
                f"and keep the GradScaler). Nothing was changed")

    @property
    def _step_supports_amp_scaling(self) -> bool:
        """``True`` when the spec scales the loss, so that a ``torch.amp.GradScaler`` hands this
        optimizer its scale instead of unscaling ``.grad`` first, and :meth:`step` refuses it."""
        return scales_loss(self._engine.spec.transforms)

    def _transformed(self, gathered: list[list[Gathered]]) -> tuple[list[list[Gathered]], PipelineCall | None]:
        """``gathered`` with every gradient replaced by its value after the spec's gradient
        pipeline, which sees them all in parameter order (:mod:`optbridge.backends.torch.transforms`:
        a torch-form global clip first in the pipeline scales the parameters' ``.grad`` in place,
        as ``clip_grad_norm_`` does), and the pipeline's call when it keeps state (``None``
        otherwise). A flat unit's gradients are its buffer's per-parameter views; new tensors
        in their place go into a copy of the buffer, and the buffer itself is stepped where
        every view came back (scaled in place, or untouched)."""
        engine = self._engine
        order = {n: i for i, n in enumerate(engine.param_names)}
        where: list[tuple[int, int, int, int]] = []
        grads_of: dict[tuple[int, int], list[torch.Tensor]] = {}
        views: dict[tuple[int, int], list[torch.Tensor]] = {}
        for r, (units, row) in enumerate(zip(self._units, gathered)):
            for u, (unit, (present, grads, _)) in enumerate(zip(units, row)):
                if unit.flat is not None:
                    grads = [unit.flat.view(unit.flat.grad, i) for i in range(len(unit.names))]
                names = unit.names if present is None else [unit.names[i] for i in present]
                grads_of[r, u] = list(grads)
                views[r, u] = list(grads)
                where.extend((order[n], r, u, k) for k, n in enumerate(names))
        where.sort()
        ordered = [grads_of[r, u][k] for _, r, u, k in where]
        transforms = engine.spec.transforms
        call = None
        if stateful(transforms):
            params = [self._named_params[engine.param_names[i]] for i, _, _, _ in where]
            slots = transform_slots(transforms)
            call = PipelineCall(torch_ops, transforms, engine.global_step, params,
                                {slot: [self.state[p][slot] for p in params] for slot in slots},
                                engine.transform_states)
            new = call.forward(ordered, apply=apply_transform)
            if new is None:
                return gathered, call
        else:
            new = transform_gradients(transforms, ordered)
        for (_, r, u, k), g in zip(where, new):
            grads_of[r, u][k] = g
        out: list[list[Gathered]] = []
        for r, (units, row) in enumerate(zip(self._units, gathered)):
            out.append([])
            for u, (unit, (present, _, checked)) in enumerate(zip(units, row)):
                if unit.flat is not None:
                    buffer = unit.flat.grad
                    if not all(map(operator.is_, grads_of[r, u], views[r, u])):
                        buffer = buffer.clone()
                        for i, g in enumerate(grads_of[r, u]):
                            unit.flat.view(buffer, i).copy_(g)
                    out[r].append((present, [buffer], checked))
                else:
                    out[r].append((present, grads_of[r, u], checked))
        return out, call

    def finalize_averages(self) -> None:
        """Set every parameter to its moving average (Keras ``finalize_variable_values``; the
        spec needs an :class:`~optbridge.transforms.ExponentialMovingAverage`). The averages
        are also ``optimizer.state[p]["average"]``.

        Raises:
            SpecValueError: the spec keeps no average.
        """
        check_averaged(self._engine.spec.transforms)
        with torch.no_grad():
            for n in self._engine.param_names:
                p = self._named_params[n]
                p.copy_(self.state[p]["average"])

    # -- gradients ------------------------------------------------------------------------
    @torch._disable_dynamo
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset gradients (``set_to_none`` as in torch; flat buckets are zeroed in place).

        When every bucket is flat, torch's per-parameter pass is skipped: the gradient views
        are re-attached where something replaced them, and each buffer is zeroed.
        """
        flat = [unit.flat for units in self._units for unit in units if unit.flat is not None]
        if len(flat) < sum(map(len, self._units)):
            super().zero_grad(set_to_none)
        for buffers in flat:
            buffers.attach_grads()
            buffers.grad.zero_()

    # -- groups -----------------------------------------------------------------------------
    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group: ``{"params": tensors, "lr": ..., "weight_decay": ..., <hyperparameters>}``.

        ``params`` holds ``(name, tensor)`` pairs, tensors with their names in
        ``param_names`` (torch's named groups), or bare tensors, as
        ``module.parameters()`` gives them. A bare tensor is named by the ``names=``
        module given at construction where it knows the tensor, else
        ``param_groups.<group index>.<position>`` (so the same call on a fresh optimizer
        gives the same names, and state dicts round-trip). Keys other than ``params``,
        ``lr``, ``weight_decay`` and ``param_names`` must be the algorithm's
        hyperparameters (or torch's ``betas`` for ``beta1``/``beta2``); a key left out
        takes the optimizer's default, as in torch (the spec's value for the
        algorithm's hyperparameters, lr and weight decay). Existing groups and their state
        are untouched; the new group's host state starts fresh; the global step
        continues. Checked in full (:meth:`Engine.add_group`), then applied in one
        transaction: on any error the optimizer and its engine are as they were.

        Raises:
            SpecTypeError / SpecValueError: a bad group, a parameter already in a group, a
                bad key or value. GroupError: the groups no longer resolve.
        """
        if self._building:
            super().add_param_group(param_group)
            return
        if not isinstance(param_group, dict) or "params" not in param_group:
            raise SpecTypeError("param_group must be a dict with a 'params' entry")
        index = len(self.param_groups)
        raw = param_group["params"]
        raw = [raw] if isinstance(raw, torch.Tensor) else list(raw)
        given_names = param_group.get("param_names")
        if given_names is not None:
            given_names = [given_names] if isinstance(given_names, str) else list(given_names)
            if len(given_names) != len(raw):
                raise SpecValueError(f"add_param_group: {len(given_names)} param_names for {len(raw)} params")
            raw = list(zip(given_names, raw))
        named = named_parameters(raw, self._names_arg, unnamed_group=index)
        owned = {id(p) for p in self._named_params.values()}
        for n, t in named:
            if n in self._named_params or id(t) in owned:
                raise SpecValueError(f"add_param_group: parameter {n!r} is already in a group")
        check_parameters(named, self._state_dtype)
        check_sharded(named, flat=self._flat, capturable=self._graph is not None)
        spec = new_group_spec(param_group, [n for n, _ in named], self.engine.spec.algorithm, index)
        with self._transaction():
            self.engine.add_group(spec, [ParamInfo(n, tuple(t.shape)) for n, t in named])
            self._check_kernels()
            self._named_params.update(named)
            self._building = True
            try:
                super().add_param_group(ParamGroup(self._engine, index, {"params": list(named)},
                                                   sync=self._sync_views))
            finally:
                self._building = False
            allocate_state(self.engine, self._named_params, self.state, self._state_dtype, [n for n, _ in named])
            self._units = self._units + self._build_units([index])
        if self._graph is not None:
            self._graph.bind(self._named_params)

    # -- state --------------------------------------------------------------------------------
    def export_slots(self) -> dict[str, dict[str, torch.Tensor]]:
        return {n: dict(self.state[self._named_params[n]].items()) for n in self.engine.expected_slots()}

    def import_slots(self, state: Mapping[str, Mapping[str, Any]]) -> None:
        state_io.assign_slots(state_io.convert_slots(self.export_slots(), state))

    describe_slot = staticmethod(state_io.describe_slot)

    def state_dict(self) -> dict[str, Any]:
        """torch layout keyed by parameter name, which is also the neutral optbridge state.

        See :mod:`optbridge.backends.torch.state_io`. Loadable with
        ``torch.load(path, weights_only=True)``. torch's state-dict hooks run around it.
        """
        for pre_hook in self._optimizer_state_dict_pre_hooks.values():
            pre_hook(self)
        sd = state_io.state_dict(self.engine, self.param_groups, self.export_slots())
        for post_hook in self._optimizer_state_dict_post_hooks.values():
            result = post_hook(self, sd)
            if result is not None:
                sd = result
        return sd

    def neutral_state_dict(self) -> dict[str, Any]:
        """The neutral state with NumPy arrays (DESIGN.md §8): load it on any backend."""
        return state_io.to_numpy(self.state_dict())

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Load a state from :meth:`state_dict` (any backend's neutral state works too).

        All or nothing: checked in full and every slot value converted before anything
        changes (see :mod:`optbridge.backends.torch.state_io`), then applied in one
        transaction; a refusal raises :class:`~optbridge.errors.StateDictError` naming the
        path at fault. torch's load hooks run around it.
        """
        sd: Any = state_io.neutral_form(state_dict, self.engine.param_names)
        state_io.check_format(sd)
        for pre_hook in self._optimizer_load_state_dict_pre_hooks.values():
            # torch types the argument as a dict; the hook gets the mapping the caller passed
            result = pre_hook(self, sd)
            if result is not None:
                sd = result
        plan = state_io.prepare_load(self.engine, self._views, sd, self.export_slots())
        with self._transaction():
            state_io.apply_load(self.engine, self._views, plan)
        for post_hook in self._optimizer_load_state_dict_post_hooks.values():
            post_hook(self)

    def __repr__(self) -> str:
        spec = self.engine.spec
        return (f"optbridge.backends.torch.Optimizer({spec.origin or spec.algorithm.name}, "
                f"path={self._path!r}, flat={self._flat}, groups={len(self.param_groups)})")

"""Bad inputs for the MindSpore dialect, as data shared by the golden generator and tests.

Each record: ``(id, optimizer class name, kwargs)``. ``params`` is written the optbridge
way (a list of parameter names, or group dicts whose ``params`` are name lists); the
generator turns names into MindSpore ``Parameter`` objects of the ``tiny`` layout.
"""
from __future__ import annotations

W = ["conv1.weight", "fc.weight"]
B = ["fc.bias"]
ALL = ["conv1.weight", "bn1.gamma", "bn1.beta", "conv2.weight", "fc.weight", "fc.bias"]
REST = [n for n in ALL if n not in W]

RECORDS = [
    ("lr_negative", "Momentum", dict(params=W, learning_rate=-0.1, momentum=0.9)),
    ("lr_nan", "Momentum", dict(params=W, learning_rate=float("nan"), momentum=0.9)),
    ("lr_none", "Momentum", dict(params=W, learning_rate=None, momentum=0.9)),
    ("momentum_int", "Momentum", dict(params=W, learning_rate=0.1, momentum=1)),
    ("momentum_negative", "Momentum", dict(params=W, learning_rate=0.1, momentum=-0.5)),
    ("weight_decay_negative", "Momentum", dict(params=W, learning_rate=0.1, momentum=0.9, weight_decay=-1e-3)),
    ("weight_decay_str", "Momentum", dict(params=W, learning_rate=0.1, momentum=0.9, weight_decay="x")),
    ("loss_scale_zero", "Momentum", dict(params=W, learning_rate=0.1, momentum=0.9, loss_scale=0.0)),
    ("loss_scale_str", "Momentum", dict(params=W, learning_rate=0.1, momentum=0.9, loss_scale="x")),
    ("use_nesterov_int", "Momentum", dict(params=W, learning_rate=0.1, momentum=0.9, use_nesterov=1)),
    ("params_empty", "Momentum", dict(params=[], learning_rate=0.1, momentum=0.9)),
    ("group_bad_key", "Momentum", dict(params=[{"params": W, "lrr": 0.1}], learning_rate=0.1, momentum=0.9)),
    ("group_empty", "Momentum", dict(params=[{"params": []}], learning_rate=0.1, momentum=0.9)),
    ("group_weight_decay_negative", "Momentum",
     dict(params=[{"params": W, "weight_decay": -1.0}], learning_rate=0.1, momentum=0.9)),
    ("group_lr_negative", "Momentum", dict(params=[{"params": W, "lr": -1.0}], learning_rate=0.1, momentum=0.9)),
    ("group_lr_bad_type", "Momentum", dict(params=[{"params": W, "lr": None}], learning_rate=0.1, momentum=0.9)),
    ("group_gc_int", "Momentum",
     dict(params=[{"params": W, "grad_centralization": 1}], learning_rate=0.1, momentum=0.9)),
    ("order_params_extra_key", "Momentum",
     dict(params=[{"params": W}, {"order_params": W, "lr": 0.1}], learning_rate=0.1, momentum=0.9)),
    ("group_lr_table_length", "Momentum",
     dict(params=[{"params": W, "lr": [0.1, 0.2]}, {"params": REST}], learning_rate=[0.1, 0.2, 0.3],
          momentum=0.9)),
    ("lr_2d_table", "Momentum", dict(params=W, learning_rate=[[0.1, 0.2], [0.3, 0.4]], momentum=0.9)),
    ("sgd_momentum_str", "SGD", dict(params=W, momentum="x")),
    ("sgd_momentum_negative", "SGD", dict(params=W, momentum=-1.0)),
    ("sgd_dampening_negative", "SGD", dict(params=W, momentum=0.9, dampening=-1.0)),
    ("sgd_dampening_str", "SGD", dict(params=W, momentum=0.9, dampening="x")),
    ("sgd_nesterov_no_momentum", "SGD", dict(params=W, momentum=0.0, nesterov=True)),
    ("sgd_nesterov_dampening", "SGD", dict(params=W, momentum=0.9, dampening=0.1, nesterov=True)),
    ("sgd_nesterov_int", "SGD", dict(params=W, momentum=0.9, nesterov=1)),
    ("sgd_loss_scale_negative", "SGD", dict(params=W, loss_scale=-2.0)),
    ("asgd_lambd_int", "ASGD", dict(params=W, lambd=1)),
    ("asgd_alpha_int", "ASGD", dict(params=W, alpha=1)),
    ("asgd_t0_int", "ASGD", dict(params=W, t0=1)),
    ("asgd_weight_decay_negative", "ASGD", dict(params=W, weight_decay=-1.0)),
    ("asgd_lr_negative", "ASGD", dict(params=W, learning_rate=-1.0)),
    ("adam_beta1_int", "Adam", dict(params=W, beta1=1)),
    ("adam_beta1_one", "Adam", dict(params=W, beta1=1.0)),
    ("adam_beta2_zero", "Adam", dict(params=W, beta2=0.0)),
    ("adam_eps_zero", "Adam", dict(params=W, eps=0.0)),
    ("adam_eps_int", "Adam", dict(params=W, eps=1)),
    ("adam_use_locking_int", "Adam", dict(params=W, use_locking=1)),
    ("adam_use_nesterov_int", "Adam", dict(params=W, use_nesterov=1)),
    ("adam_use_amsgrad_int", "Adam", dict(params=W, use_amsgrad=1)),
    ("adam_unknown_kwarg", "Adam", dict(params=W, foo=1)),
    ("adam_lazy_and_offload", "Adam", dict(params=W, use_lazy=True, use_offload=True)),
    ("adam_amsgrad_lazy", "Adam", dict(params=W, use_amsgrad=True, use_lazy=True)),
    ("adam_weight_decay_negative", "Adam", dict(params=W, weight_decay=-0.5)),
    ("adamw_beta1_range", "AdamWeightDecay", dict(params=W, beta1=1.5)),
    ("adamw_eps_negative", "AdamWeightDecay", dict(params=W, eps=-1.0)),
    ("adamw_weight_decay_negative", "AdamWeightDecay", dict(params=W, weight_decay=-1.0)),
    ("adamw_loss_scale", "AdamWeightDecay", dict(params=W, loss_scale=2.0)),
    ("adamw_beta2_str", "AdamWeightDecay", dict(params=W, beta2="0.9")),
    # -- sgd-adam (H2a): LazyAdam --
    ("lazyadam_weight_decay_int", "LazyAdam", dict(params=W, weight_decay=0)),
    ("lazyadam_weight_decay_negative", "LazyAdam", dict(params=W, weight_decay=-1.0)),
    ("lazyadam_beta1_int", "LazyAdam", dict(params=W, beta1=1, weight_decay=0)),
    ("lazyadam_beta2_one", "LazyAdam", dict(params=W, beta2=1.0)),
    ("lazyadam_eps_zero", "LazyAdam", dict(params=W, eps=0.0)),
    ("lazyadam_use_locking_int", "LazyAdam", dict(params=W, use_locking=1)),
    ("lazyadam_use_nesterov_int", "LazyAdam", dict(params=W, use_nesterov=1)),
    ("lazyadam_lr_negative", "LazyAdam", dict(params=W, learning_rate=-0.01)),
]

# -- ms-only (H3): FTRL, ProximalAdagrad, Lamb, LARS --
RECORDS += [
    ("ftrl_initial_accum_int", "FTRL", dict(params=W, initial_accum=1)),
    ("ftrl_initial_accum_negative", "FTRL", dict(params=W, initial_accum=-0.1)),
    ("ftrl_lr_int", "FTRL", dict(params=W, learning_rate=1)),
    ("ftrl_lr_zero", "FTRL", dict(params=W, learning_rate=0.0)),
    ("ftrl_lr_negative", "FTRL", dict(params=W, learning_rate=-0.1)),
    ("ftrl_lr_nan", "FTRL", dict(params=W, learning_rate=float("nan"))),
    ("ftrl_lr_list", "FTRL", dict(params=W, learning_rate=[0.1, 0.2])),
    ("ftrl_group_lr", "FTRL", dict(params=[{"params": W, "lr": 0.1}, {"params": REST}])),
    ("ftrl_lr_power_int", "FTRL", dict(params=W, lr_power=1)),
    ("ftrl_lr_power_positive", "FTRL", dict(params=W, lr_power=0.5)),
    ("ftrl_lr_power_inf", "FTRL", dict(params=W, lr_power=float("inf"))),
    ("ftrl_l1_negative", "FTRL", dict(params=W, l1=-1.0)),
    ("ftrl_l1_nan", "FTRL", dict(params=W, l1=float("nan"))),
    ("ftrl_l2_int", "FTRL", dict(params=W, l2=1)),
    ("ftrl_use_locking_int", "FTRL", dict(params=W, use_locking=1)),
    ("ftrl_loss_scale_zero", "FTRL", dict(params=W, loss_scale=0.0)),
    ("ftrl_weight_decay_negative", "FTRL", dict(params=W, weight_decay=-1.0)),
    ("proximal_adagrad_accum_int", "ProximalAdagrad", dict(params=W, accum=1)),
    ("proximal_adagrad_accum_negative", "ProximalAdagrad", dict(params=W, accum=-0.1)),
    ("proximal_adagrad_l1_int", "ProximalAdagrad", dict(params=W, l1=1)),
    ("proximal_adagrad_l1_nan", "ProximalAdagrad", dict(params=W, l1=float("nan"))),
    ("proximal_adagrad_l2_negative", "ProximalAdagrad", dict(params=W, l2=-1.0)),
    ("proximal_adagrad_use_locking_int", "ProximalAdagrad", dict(params=W, use_locking=1)),
    ("proximal_adagrad_lr_negative", "ProximalAdagrad", dict(params=W, learning_rate=-1.0)),
    ("proximal_adagrad_loss_scale_negative", "ProximalAdagrad", dict(params=W, loss_scale=-1.0)),
    ("lamb_beta1_int", "Lamb", dict(params=W, learning_rate=0.1, beta1=1)),
    ("lamb_beta1_one", "Lamb", dict(params=W, learning_rate=0.1, beta1=1.0)),
    ("lamb_beta2_zero", "Lamb", dict(params=W, learning_rate=0.1, beta2=0.0)),
    ("lamb_eps_zero", "Lamb", dict(params=W, learning_rate=0.1, eps=0.0)),
    ("lamb_eps_int", "Lamb", dict(params=W, learning_rate=0.1, eps=1)),
    ("lamb_eps_inf", "Lamb", dict(params=W, learning_rate=0.1, eps=float("inf"))),
    ("lamb_weight_decay_negative", "Lamb", dict(params=W, learning_rate=0.1, weight_decay=-1.0)),
]

#: ``nn.LARS`` records: ``(id, lars kwargs, wrapped class name, wrapped kwargs)``; the wrapped
#: optimizer is built first (``None`` as class name: pass ``optimizer=None``).
WRAPPER_RECORDS = [
    ("lars_epsilon_int", dict(epsilon=1), "Momentum", dict(params=W, learning_rate=0.1, momentum=0.9)),
    ("lars_coefficient_int", dict(coefficient=1), "Momentum", dict(params=W, learning_rate=0.1, momentum=0.9)),
    ("lars_use_clip_int", dict(use_clip=1), "Momentum", dict(params=W, learning_rate=0.1, momentum=0.9)),
    ("lars_optimizer_none", dict(), None, None),
    ("lars_clip_group_dynamic_lr", dict(use_clip=True), "Momentum",
     dict(params=[{"params": W, "lr": 0.2}, {"params": REST}], learning_rate=[0.1, 0.2], momentum=0.9)),
    ("lars_clip_group_static_lr", dict(use_clip=True), "Momentum",
     dict(params=[{"params": W, "lr": 0.2}, {"params": REST}], learning_rate=0.1, momentum=0.9)),
    ("lars_epsilon_negative", dict(epsilon=-1.0), "Momentum", dict(params=W, learning_rate=0.1, momentum=0.9)),
]

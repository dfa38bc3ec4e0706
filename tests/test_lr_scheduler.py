"""ember.optim.lr_scheduler: every schedule's lr (and momentum) sequence against torch.optim.lr_scheduler."""

import io
import math
import warnings

import pytest

import ember
from ember import optim

STEPS = 120
# most tests here step a scheduler alone; test_stepping_before_the_optimizer_warns_as_torch checks the warning
pytestmark = pytest.mark.filterwarnings("ignore:.*before the optimizer's step:UserWarning")


def _pair(torch, kind="SGD", **kwargs):
    """An Ember and a torch optimizer with the same two param groups (lr 0.1 and 0.05)."""
    ours = getattr(optim, kind)([{"params": [ember.zeros(2, requires_grad=True)]},
                                 {"params": [ember.zeros(2, requires_grad=True)], "lr": 0.05}], lr=0.1, **kwargs)
    theirs = getattr(torch.optim, kind)([{"params": [torch.zeros(2, requires_grad=True)]},
                                         {"params": [torch.zeros(2, requires_grad=True)], "lr": 0.05}],
                                        lr=0.1, **kwargs)
    return ours, theirs


def _momenta(opt):
    return [g["betas"][0] if "betas" in g else g.get("momentum") for g in opt.param_groups]


def _run(torch, build, steps=STEPS, kind="SGD", **opt_kwargs):
    """Step both schedulers ``steps`` times; the lrs (and momenta) must be equal to the last bit."""
    ours, theirs = _pair(torch, kind, **opt_kwargs)
    mine, ref = build(optim, ours), build(torch.optim.lr_scheduler, theirs)
    assert mine.get_last_lr() == ref.get_last_lr()
    for _ in range(steps):
        ours.step()  # both warn when a scheduler steps before its optimizer
        theirs.step()
        mine.step()
        ref.step()
        assert mine.get_last_lr() == ref.get_last_lr()
        assert [g["lr"] for g in ours.param_groups] == [g["lr"] for g in theirs.param_groups]
        assert _momenta(ours) == _momenta(theirs)
    return mine, ours


SCHEDULES = {
    "step": lambda m, o: m.StepLR(o, step_size=7, gamma=0.5),
    "step_float": lambda m, o: m.StepLR(o, 1.0, gamma=0.95),  # PyTorch's word-language-model example
    "multistep": lambda m, o: m.MultiStepLR(o, milestones=[10, 30, 30, 60], gamma=0.3),
    "exponential": lambda m, o: m.ExponentialLR(o, gamma=0.95),
    "cosine": lambda m, o: m.CosineAnnealingLR(o, T_max=20, eta_min=0.001),
    "cosine-long": lambda m, o: m.CosineAnnealingLR(o, T_max=200),
    "linear-warmup": lambda m, o: m.LinearLR(o, start_factor=0.1, total_iters=25),
    "linear-decay": lambda m, o: m.LinearLR(o, start_factor=1.0, end_factor=0.2, total_iters=10),
    "lambda": lambda m, o: m.LambdaLR(o, lambda epoch: 1 / (epoch + 1)),
    "lambda-per-group": lambda m, o: m.LambdaLR(o, [lambda e: 0.9**e, lambda e: min(1.0, (e + 1) / 10)]),
    "sequential": lambda m, o: m.SequentialLR(
        o, [m.LinearLR(o, start_factor=0.1, total_iters=5), m.CosineAnnealingLR(o, T_max=40)], milestones=[5]),
    "sequential-3": lambda m, o: m.SequentialLR(
        o, [m.ExponentialLR(o, gamma=0.9), m.StepLR(o, step_size=3), m.LinearLR(o, 0.5, total_iters=4)],
        milestones=[10, 40]),
    "constant": lambda m, o: m.ConstantLR(o, factor=0.5, total_iters=4),
    "polynomial": lambda m, o: m.PolynomialLR(o, total_iters=50, power=2.0),
    "multiplicative": lambda m, o: m.MultiplicativeLR(o, lambda e: 0.97 if e % 3 else 1.01),
    "warm-restarts": lambda m, o: m.CosineAnnealingWarmRestarts(o, T_0=7, eta_min=0.001),
    "warm-restarts-mult": lambda m, o: m.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2),
    "cyclic-triangular": lambda m, o: m.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=9),
    "cyclic-triangular2": lambda m, o: m.CyclicLR(o, base_lr=[0.01, 0.02], max_lr=[0.1, 0.3], step_size_up=5,
                                                  step_size_down=11, mode="triangular2", base_momentum=0.7),
    "cyclic-exp-range": lambda m, o: m.CyclicLR(o, 0.01, 0.1, step_size_up=6, mode="exp_range", gamma=0.99,
                                                cycle_momentum=False),
    "cyclic-scale-fn": lambda m, o: m.CyclicLR(o, 0.01, 0.1, step_size_up=4, scale_fn=lambda x: 0.5 ** x,
                                               scale_mode="iterations"),
    "chained": lambda m, o: m.ChainedScheduler([m.ConstantLR(o, 0.1, total_iters=3), m.ExponentialLR(o, 0.95),
                                                m.MultiplicativeLR(o, lambda e: 0.99)]),
    "sequential-warm-restarts": lambda m, o: m.SequentialLR(
        o, [m.ConstantLR(o, 0.2, total_iters=5), m.CosineAnnealingWarmRestarts(o, T_0=9)], milestones=[5]),
    "sequential-polynomial": lambda m, o: m.SequentialLR(
        o, [m.ConstantLR(o, 0.2, total_iters=8), m.PolynomialLR(o, total_iters=30)], milestones=[8]),
    "sequential-of-chained": lambda m, o: m.SequentialLR(  # the chain's schedules are undone, as a nested sequence's
        o, [m.ChainedScheduler([m.ConstantLR(o, 0.1, total_iters=2), m.ExponentialLR(o, 0.9)]), m.StepLR(o, 2, 0.5)],
        milestones=[5]),
}


@pytest.mark.parametrize("name", list(SCHEDULES))
def test_schedule_matches_torch(name):
    torch = pytest.importorskip("torch")
    _run(torch, SCHEDULES[name])


ONE_CYCLE = [
    ("SGD", {"momentum": 0.9}, {}),
    ("SGD", {"momentum": 0.9}, {"anneal_strategy": "linear", "pct_start": 0.25}),
    ("SGD", {"momentum": 0.9}, {"three_phase": True, "div_factor": 10.0, "final_div_factor": 100.0}),
    ("Adam", {}, {"max_momentum": 0.9, "base_momentum": 0.8}),
    ("Adam", {}, {"three_phase": True, "anneal_strategy": "linear", "max_lr": [0.5, 0.2]}),
    ("Adagrad", {}, {"cycle_momentum": False}),
]


@pytest.mark.parametrize("kind,opt_kwargs,kwargs", ONE_CYCLE)
def test_one_cycle_matches_torch(kind, opt_kwargs, kwargs):
    torch = pytest.importorskip("torch")
    kwargs = {"max_lr": 1.0, "total_steps": 100, **kwargs}
    mine, _ = _run(torch, lambda m, o: m.OneCycleLR(o, **kwargs), steps=99, kind=kind, **opt_kwargs)
    with pytest.raises(ValueError, match="stepped 101 times, but total_steps is 100"):
        mine.step(), mine.step()


@pytest.mark.parametrize("kwargs", [{}, {"mode": "triangular2", "max_momentum": 0.95},
                                    {"mode": "exp_range", "gamma": 0.97, "step_size_down": 3}])
def test_cyclic_lr_cycles_adam_beta1_like_torch(kwargs):
    torch = pytest.importorskip("torch")
    _run(torch, lambda m, o: m.CyclicLR(o, base_lr=0.001, max_lr=0.01, step_size_up=7, **kwargs), kind="Adam")


def test_cyclic_lr_momentum_needs_an_optimizer_with_momentum():
    with pytest.raises(ValueError, match="CyclicLR: cycle_momentum=True needs an optimizer with momentum or betas"):
        optim.CyclicLR(optim.Adagrad([ember.zeros(1, requires_grad=True)]), 0.01, 0.1)


EPOCH_SCHEDULES = [name for name in SCHEDULES if not name.startswith(("sequential", "chained", "warm-restarts"))]


@pytest.mark.parametrize("name", EPOCH_SCHEDULES)
def test_step_with_an_epoch_matches_torch(name):
    """PyTorch's deprecated ``step(epoch)``: a jump to that epoch (closed form where the schedule has one), with its
    warning, then plain steps again (Ember's step() took no epoch)."""
    torch = pytest.importorskip("torch")
    ours, theirs = _pair(torch)
    mine, ref = SCHEDULES[name](optim, ours), SCHEDULES[name](torch.optim.lr_scheduler, theirs)
    for epoch in [3, 5, 2, None, None, 11, 11, None, 30, 0, None]:
        if epoch is None:
            mine.step()
        else:
            with pytest.warns(UserWarning, match="epoch parameter"):
                mine.step(epoch)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref.step(epoch)
        assert mine.last_epoch == ref.last_epoch
        assert mine.get_last_lr() == ref.get_last_lr()
        assert [g["lr"] for g in ours.param_groups] == [g["lr"] for g in theirs.param_groups]


def test_step_with_an_epoch_takes_a_subclass_closed_form_as_torch():
    """A schedule written for PyTorch may define its closed form as ``_get_closed_form_lr``, which torch's
    step(epoch) takes; Ember's looked for another name and took get_lr (0.075 where torch gives 0.75)."""
    torch = pytest.importorskip("torch")

    def warmup(schedulers):
        class Warmup(schedulers.LRScheduler):
            def get_lr(self):
                return [base * min(1.0, (self.last_epoch + 1) / 4) for base in self.base_lrs]

            def _get_closed_form_lr(self):
                return [base * min(1.0, (self.last_epoch + 1) / 4) * 10 for base in self.base_lrs]

        return Warmup

    ours, theirs = _pair(torch)
    mine, ref = warmup(optim.lr_scheduler)(ours), warmup(torch.optim.lr_scheduler)(theirs)
    for epoch in [None, None, 2, None, 7]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            mine.step(epoch)
            ref.step(epoch)
        assert mine.get_last_lr() == ref.get_last_lr()
    assert [g["lr"] for g in ours.param_groups] == [g["lr"] for g in theirs.param_groups] == [1.0, 0.5]


def test_a_subclass_reading_torchs_within_step_flag_runs_as_torch():
    """A get_lr written after torch's own reads self._get_lr_called_within_step to warn when called outside
    step(); Ember named the flag otherwise, so such a schedule failed with an AttributeError."""
    torch = pytest.importorskip("torch")

    def warmup(schedulers):
        class Warmup(schedulers.LRScheduler):
            def get_lr(self):
                if not self._get_lr_called_within_step:
                    warnings.warn("To get the last learning rate, use get_last_lr()", stacklevel=2)
                return [base * min(1.0, (self.last_epoch + 1) / 4) for base in self.base_lrs]

        return Warmup

    ours, theirs = _pair(torch)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mine, ref = warmup(optim.lr_scheduler)(ours), warmup(torch.optim.lr_scheduler)(theirs)
        for _ in range(5):
            ours.step()
            theirs.step()
            mine.step()
            ref.step()
            assert mine.get_last_lr() == ref.get_last_lr()
    with pytest.warns(UserWarning, match="get_last_lr"):
        mine.get_lr()


def test_reduce_on_plateau_step_with_an_epoch_matches_torch():
    torch = pytest.importorskip("torch")
    ours, theirs = _pair(torch)
    mine = optim.ReduceLROnPlateau(ours, patience=1)
    ref = torch.optim.lr_scheduler.ReduceLROnPlateau(theirs, patience=1)
    for epoch in [5, None, 9, None, None, 2]:
        if epoch is None:
            mine.step(1.0)
        else:
            with pytest.warns(UserWarning, match="epoch parameter"):
                mine.step(1.0, epoch)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref.step(1.0, epoch)
        assert mine.last_epoch == ref.last_epoch and mine.get_last_lr() == ref.get_last_lr()


@pytest.mark.parametrize("T_mult", [1, 2, 3])
def test_warm_restarts_at_fractional_epochs_match_torch(T_mult):
    torch = pytest.importorskip("torch")
    ours, theirs = _pair(torch)
    mine = optim.CosineAnnealingWarmRestarts(ours, T_0=4, T_mult=T_mult, eta_min=0.002)
    ref = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(theirs, T_0=4, T_mult=T_mult, eta_min=0.002)
    batches = 7
    for epoch in range(30):
        for i in range(batches):
            mine.step(epoch + i / batches)
            ref.step(epoch + i / batches)
            assert mine.get_last_lr() == ref.get_last_lr()
            assert (mine.last_epoch, mine.T_i, mine.T_cur) == (ref.last_epoch, ref.T_i, ref.T_cur)
    for epoch in [3, 100, 0.5, 41.25]:  # jumps, back and forth
        mine.step(epoch)
        ref.step(epoch)
        assert mine.get_last_lr() == ref.get_last_lr()
    with pytest.raises(ValueError, match="CosineAnnealingWarmRestarts: epoch must be >= 0, got -1"):
        mine.step(-1)


def test_reduce_on_plateau_reduces_a_param_group_added_later_as_torch():
    """A group added after the scheduler was made is reduced too, with the scalar min_lr (it kept its lr); with one
    min_lr per group, torch's RuntimeError."""
    torch = pytest.importorskip("torch")
    ours, theirs = _pair(torch)
    mine = optim.ReduceLROnPlateau(ours, patience=0, min_lr=0.001)
    ref = torch.optim.lr_scheduler.ReduceLROnPlateau(theirs, patience=0, min_lr=0.001)
    ours.add_param_group({"params": [ember.zeros(1, requires_grad=True)], "lr": 0.2})
    theirs.add_param_group({"params": [torch.zeros(1, requires_grad=True)], "lr": 0.2})
    for metric in [1.0, 1.0, 2.0, 0.5, 0.7, 0.7, 0.7, 0.7]:
        mine.step(metric)
        ref.step(metric)
        assert [g["lr"] for g in ours.param_groups] == [g["lr"] for g in theirs.param_groups]
    assert mine.get_last_lr() == ref.get_last_lr()
    ours, _ = _pair(torch)
    per_group = optim.ReduceLROnPlateau(ours, patience=0, min_lr=[0.0, 0.0])
    ours.add_param_group({"params": [ember.zeros(1, requires_grad=True)]})
    per_group.step(1.0)
    with pytest.raises(RuntimeError, match="ReduceLROnPlateau: the optimizer has 3 param groups, 2 when"):
        per_group.step(2.0)


@pytest.mark.parametrize("name", ["cosine", "warm-restarts", "cyclic-triangular", "lambda", "multiplicative"])
def test_a_param_group_added_after_a_per_group_schedule_is_an_error_as_torch(name):
    """A schedule that reads one value per group (base lrs, lambdas) cannot cover a group added later: torch
    raises at the first step that reads them, Ember went on scheduling only the first groups and left the new
    one at its lr."""
    torch = pytest.importorskip("torch")
    ours, theirs = _pair(torch)
    mine, ref = SCHEDULES[name](optim, ours), SCHEDULES[name](torch.optim.lr_scheduler, theirs)
    ours.add_param_group({"params": [ember.zeros(1, requires_grad=True)], "lr": 0.3})
    theirs.add_param_group({"params": [torch.zeros(1, requires_grad=True)], "lr": 0.3})
    for _ in range(STEPS):
        theirs.step()  # torch warns when its scheduler steps before its optimizer
        try:
            ref.step()
        except ValueError:
            break
        mine.step()
        assert mine.get_last_lr() == ref.get_last_lr()
    else:
        pytest.fail("torch's schedule did not raise")
    with pytest.raises(ValueError, match="the optimizer has 3 param groups, the schedule 2"):
        mine.step()



@pytest.mark.parametrize("name", ["OneCycleLR", "SWALR"])
def test_a_param_group_added_after_one_cycle_or_swa_names_the_schedule(name):
    """These read the keys they put in each group (max_lr, swa_lr): a group added later raised a bare KeyError
    from inside get_lr (torch's too); now the error the other per-group schedules give."""
    opt = optim.SGD([ember.zeros(1, requires_grad=True)], lr=0.1, momentum=0.9)
    sched = (optim.OneCycleLR(opt, max_lr=0.5, total_steps=10) if name == "OneCycleLR"
             else optim.swa_utils.SWALR(opt, swa_lr=0.05, anneal_epochs=3))
    opt.step()
    sched.step()
    opt.add_param_group({"params": [ember.zeros(1, requires_grad=True)], "lr": 0.3})
    with pytest.raises(ValueError, match=f"{name}: the optimizer has 2 param groups, the schedule 1"):
        sched.step()

def test_chainable_schedules_cover_a_param_group_added_later_as_torch():
    torch = pytest.importorskip("torch")
    ours, theirs = _pair(torch)
    mine, ref = SCHEDULES["step"](optim, ours), SCHEDULES["step"](torch.optim.lr_scheduler, theirs)
    for i in range(20):
        if i == 4:
            ours.add_param_group({"params": [ember.zeros(1, requires_grad=True)], "lr": 0.3})
            theirs.add_param_group({"params": [torch.zeros(1, requires_grad=True)], "lr": 0.3})
        theirs.step()
        mine.step()
        ref.step()
        assert mine.get_last_lr() == ref.get_last_lr()


def test_one_cycle_by_epochs_and_errors():
    opt = optim.SGD([ember.zeros(1, requires_grad=True)], lr=0.1, momentum=0.9)
    assert optim.OneCycleLR(opt, max_lr=0.1, epochs=3, steps_per_epoch=7).total_steps == 21
    with pytest.raises(ValueError, match="give total_steps, or both epochs and steps_per_epoch"):
        optim.OneCycleLR(opt, max_lr=0.1)
    with pytest.raises(ValueError, match="total_steps must be a positive integer, got 0"):
        optim.OneCycleLR(opt, max_lr=0.1, total_steps=0)
    with pytest.raises(ValueError, match="pct_start must be a float in"):
        optim.OneCycleLR(opt, max_lr=0.1, total_steps=10, pct_start=1.5)
    with pytest.raises(ValueError, match="anneal_strategy must be 'cos' or 'linear'"):
        optim.OneCycleLR(opt, max_lr=0.1, total_steps=10, anneal_strategy="step")
    with pytest.raises(ValueError, match="Adagrad has neither"):
        optim.OneCycleLR(optim.Adagrad([ember.zeros(1, requires_grad=True)]), max_lr=0.1, total_steps=10)


def test_chained_schedules_compose_like_torch():
    torch = pytest.importorskip("torch")
    ours, theirs = _pair(torch)
    mine = [optim.ExponentialLR(ours, gamma=0.97), optim.StepLR(ours, step_size=5, gamma=0.5)]
    ref = [torch.optim.lr_scheduler.ExponentialLR(theirs, gamma=0.97),
           torch.optim.lr_scheduler.StepLR(theirs, step_size=5, gamma=0.5)]
    for _ in range(40):
        theirs.step()
        for a, b in zip(mine, ref):
            a.step()
            b.step()
        assert [g["lr"] for g in ours.param_groups] == [g["lr"] for g in theirs.param_groups]


def test_a_schedule_written_for_torchs_old_lrscheduler_name_runs_as_torch():
    """Schedulers written for PyTorch before 2.0 subclass lr_scheduler._LRScheduler (an AttributeError here)."""
    torch = pytest.importorskip("torch")

    def warmup(base):
        class Warmup(base):
            def get_lr(self):
                return [lr * min(1.0, (self.last_epoch + 1) / 4) * 0.9 ** self.last_epoch for lr in self.base_lrs]

        return Warmup

    ours = optim.lr_scheduler._LRScheduler
    assert ours.__name__ == "_LRScheduler" and issubclass(ours, optim.LRScheduler)
    _run(torch, lambda module, opt: warmup((module.lr_scheduler if module is optim else module)._LRScheduler)(opt),
         steps=12)


PLATEAU = [
    {},
    {"mode": "max", "factor": 0.5, "patience": 2},
    {"threshold_mode": "abs", "threshold": 0.05, "patience": 1, "cooldown": 2},
    {"mode": "max", "threshold_mode": "abs", "patience": 0, "min_lr": [0.01, 0.02], "factor": 0.3},
    {"patience": 3, "cooldown": 1, "min_lr": 0.004, "factor": 0.5},
]


@pytest.mark.parametrize("kwargs", PLATEAU)
def test_reduce_on_plateau_matches_torch(kwargs):
    torch = pytest.importorskip("torch")
    ours, theirs = _pair(torch)
    mine = optim.ReduceLROnPlateau(ours, **kwargs)
    ref = torch.optim.lr_scheduler.ReduceLROnPlateau(theirs, **kwargs)
    metrics = [1.0 / (1 + i % 17) + 0.01 * math.sin(i) + (0.3 if i % 23 < 5 else 0.0) for i in range(150)]
    for metric in metrics:
        mine.step(metric)
        ref.step(metric)
        assert mine.get_last_lr() == ref.get_last_lr()
        assert (mine.num_bad_epochs, mine.cooldown_counter, mine.best) == (ref.num_bad_epochs,
                                                                            ref.cooldown_counter, ref.best)
    assert mine.get_last_lr() != [0.1, 0.05]


@pytest.mark.parametrize("name", ["step", "cosine", "sequential", "lambda", "constant", "polynomial", "multiplicative",
                                  "warm-restarts-mult", "cyclic-triangular", "cyclic-exp-range", "chained",
                                  "sequential-warm-restarts"])
def test_scheduler_state_dict_round_trip(name):
    build = SCHEDULES[name]

    def fresh():
        opt = optim.SGD([ember.zeros(1, requires_grad=True)], lr=0.1)
        return opt, build(optim, opt)

    opt, sched = fresh()
    for _ in range(13):
        sched.step()
    saved_opt, saved = opt.state_dict(), sched.state_dict()
    assert "optimizer" not in saved
    expected = []
    for _ in range(30):
        sched.step()
        expected.append(sched.get_last_lr())
    opt2, sched2 = fresh()
    opt2.load_state_dict(saved_opt)
    sched2.load_state_dict(saved)
    got = []
    for _ in range(30):
        sched2.step()
        got.append(sched2.get_last_lr())
    assert got == expected


def test_multi_step_lr_jumps_to_an_epoch_after_its_state_came_back_from_a_checkpoint_file():
    """A file holds the milestones (a Counter) as a plain dict: step(epoch) then failed on Counter.elements()."""
    def fresh():
        opt = optim.SGD([ember.zeros(1, requires_grad=True)], lr=1.0)
        return opt, optim.MultiStepLR(opt, milestones=[2, 4, 4], gamma=0.5)

    opt, sched = fresh()
    for _ in range(3):
        sched.step()
    buffer = io.BytesIO()
    ember.save(sched.state_dict(), buffer)
    buffer.seek(0)
    opt2, sched2 = fresh()
    sched2.load_state_dict(ember.load(buffer))
    with pytest.warns(UserWarning, match="epoch parameter"):
        sched2.step(5)
    assert opt2.param_groups[0]["lr"] == 0.125

def test_resume_with_last_epoch_needs_initial_lr():
    opt = optim.SGD([ember.zeros(1, requires_grad=True)], lr=0.1)
    with pytest.raises(KeyError, match="no 'initial_lr'"):
        optim.StepLR(opt, step_size=2, last_epoch=5)


SCHEDULER_ERRORS = [
    (lambda o: optim.StepLR(o, step_size=0), "StepLR: step_size must be a positive number, got 0"),
    (lambda o: optim.StepLR(o, step_size="2"), "StepLR: step_size must be a positive number, got '2'"),
    (lambda o: optim.LinearLR(o, start_factor=0.0), r"LinearLR: start_factor must be in \(0, 1\], got 0.0"),
    (lambda o: optim.LinearLR(o, end_factor=1.5), r"LinearLR: end_factor must be in \[0, 1\], got 1.5"),
    (lambda o: optim.CosineAnnealingLR(o, T_max=0), "CosineAnnealingLR: T_max must be > 0, got 0"),
    (lambda o: optim.ReduceLROnPlateau(o, factor=1.0), "ReduceLROnPlateau: factor must be < 1, got 1.0"),
    (lambda o: optim.ReduceLROnPlateau(o, mode="up"), "mode must be 'min' or 'max'"),
    (lambda o: optim.ReduceLROnPlateau(o, min_lr=[0.1, 0.2]), "min_lr has 2 values, the optimizer has 1"),
    (lambda o: optim.LambdaLR(o, [lambda e: 1.0] * 2), "lr_lambda has 2 values"),
    (lambda o: optim.SequentialLR(o, [optim.StepLR(o, 2)], milestones=[3]), "1 schedulers need 0 milestones"),
    (lambda o: optim.ConstantLR(o, factor=1.5), r"ConstantLR: factor must be in \[0, 1\], got 1.5"),
    (lambda o: optim.PolynomialLR(o, total_iters=0), "PolynomialLR: total_iters must be a positive integer, got 0"),
    (lambda o: optim.MultiplicativeLR(o, [lambda e: 1.0] * 3), "MultiplicativeLR: lr_lambda has 3 values"),
    (lambda o: optim.CosineAnnealingWarmRestarts(o, T_0=0), "T_0 must be a positive integer, got 0"),
    (lambda o: optim.CosineAnnealingWarmRestarts(o, T_0=5, T_mult=1.5), "T_mult must be an integer >= 1, got 1.5"),
    (lambda o: optim.CyclicLR(o, 0.01, 0.1, mode="sine"), "CyclicLR: mode must be 'triangular', 'triangular2' or"),
    (lambda o: optim.CyclicLR(o, 0.01, 0.1, step_size_up=0), "CyclicLR: step_size_up must be > 0"),
    (lambda o: optim.ChainedScheduler([]), "ChainedScheduler: needs at least one scheduler"),
    (lambda o: optim.ChainedScheduler([optim.StepLR(o, 2), optim.ReduceLROnPlateau(o)]),
     r"ChainedScheduler: schedulers\[1\] is a ReduceLROnPlateau"),
    (lambda o: optim.ChainedScheduler([optim.StepLR(optim.SGD([ember.zeros(1, requires_grad=True)]), 2)], o),
     r"ChainedScheduler: schedulers\[0\] \(StepLR\) drives another optimizer"),
]


@pytest.mark.parametrize("build,message", SCHEDULER_ERRORS)
def test_scheduler_validation(build, message):
    opt = optim.SGD([ember.zeros(1, requires_grad=True)], lr=0.1)
    with pytest.raises(ValueError, match=message):
        build(opt)


def test_scheduler_needs_an_optimizer():
    with pytest.raises(TypeError, match="StepLR: optimizer must be an ember.optim.Optimizer"):
        optim.StepLR(object(), step_size=1)


@pytest.mark.parametrize("kind", ["SGD", "LBFGS"])
def test_stepping_before_the_optimizer_warns_as_torch(kind):
    """torch warns at a scheduler's first step() when the optimizer has not stepped (the schedule's first lr is
    skipped); Ember was silent. Schedules that step their parts warn for each, the warm restarts and the plateau
    schedule not at all, as torch's."""
    def fresh():
        p = ember.zeros(1, requires_grad=True)
        opt = getattr(optim, kind)([p], lr=0.1)

        def closure():
            opt.zero_grad()
            loss = (p * p).sum()
            loss.backward()
            return loss
        return opt, closure

    opt, _ = fresh()
    sched = optim.StepLR(opt, step_size=2)
    with pytest.warns(UserWarning, match=r"StepLR.step\(\) was called before the optimizer's step\(\)"):
        sched.step()
    opt, _ = fresh()
    chained = optim.ChainedScheduler([optim.ConstantLR(opt, total_iters=2), optim.ExponentialLR(opt, gamma=0.9)])
    with pytest.warns(UserWarning) as record:
        chained.step()
    assert [str(w.message).split(".")[0] for w in record] == ["ConstantLR", "ExponentialLR"]
    for build, args in [(lambda o: optim.CosineAnnealingWarmRestarts(o, T_0=2), ()),
                        (lambda o: optim.ReduceLROnPlateau(o), (1.0,))]:
        opt, _ = fresh()
        sched = build(opt)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            sched.step(*args)
    opt, closure = fresh()
    sched = optim.OneCycleLR(opt, max_lr=0.1, total_steps=10, cycle_momentum=False)
    opt.step(closure)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sched.step()
        sched.step()


@pytest.mark.parametrize("name", ["exponential", "cosine", "warm-restarts", "one-cycle", "sequential"])
def test_get_lr_outside_step_warns_as_torch(name):
    """get_lr() computes a step's lrs from the current ones (OneCycleLR also moves the momentum): called by the user
    it gave the next lrs silently; torch warns to read get_last_lr(). step() itself, a milestone's jump included,
    does not warn."""
    opt = optim.SGD([ember.zeros(1, requires_grad=True)], lr=0.1, momentum=0.9)
    builds = {"exponential": lambda: optim.ExponentialLR(opt, gamma=0.5),
              "cosine": lambda: optim.CosineAnnealingLR(opt, T_max=4),
              "warm-restarts": lambda: optim.CosineAnnealingWarmRestarts(opt, T_0=3),
              "one-cycle": lambda: optim.OneCycleLR(opt, max_lr=0.5, total_steps=20),
              "sequential": lambda: optim.SequentialLR(opt, [optim.ConstantLR(opt, 0.5, total_iters=2),
                                                             optim.ExponentialLR(opt, gamma=0.5)], milestones=[2])}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sched = builds[name]()
        opt.step()
        for _ in range(4):
            sched.step()
        if name == "warm-restarts":  # a jump to a fractional epoch
            sched.step(1.5)
    inner = sched._schedulers[-1] if name == "sequential" else sched
    with pytest.warns(UserWarning, match=r"get_lr\(\) computes the lrs of a step .* use get_last_lr\(\)") as record:
        inner.get_lr()
    assert record[0].filename == __file__

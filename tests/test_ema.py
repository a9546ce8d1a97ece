import torch
from torch import nn

from seco.method.ema import ema_update, make_teacher


def test_make_teacher_is_a_frozen_copy():
    student = nn.Linear(2, 1)
    teacher = make_teacher(student)
    assert teacher is not student
    assert all(not p.requires_grad for p in teacher.parameters())
    assert all(p.requires_grad for p in student.parameters())
    assert torch.equal(teacher.weight, student.weight)
    with torch.no_grad():
        student.weight.add_(1.0)
    assert not torch.equal(teacher.weight, student.weight)


def test_ema_update_by_hand():
    student = nn.Linear(2, 1)
    with torch.no_grad():
        student.weight.copy_(torch.tensor([[1.0, 2.0]]))
        student.bias.fill_(0.0)
    teacher = make_teacher(student)
    with torch.no_grad():
        student.weight.copy_(torch.tensor([[3.0, -2.0]]))
        student.bias.fill_(10.0)
    ema_update(teacher, student, momentum=0.9)
    # 0.9 * 1 + 0.1 * 3 = 1.2 ; 0.9 * 2 + 0.1 * (-2) = 1.6 ; 0.9 * 0 + 0.1 * 10 = 1.0
    assert torch.allclose(teacher.weight, torch.tensor([[1.2, 1.6]]))
    assert torch.allclose(teacher.bias, torch.tensor([1.0]))
    assert teacher.weight.grad is None and not teacher.weight.requires_grad


def test_ema_update_buffers():
    student = nn.BatchNorm1d(2)
    teacher = make_teacher(student)
    with torch.no_grad():
        student.running_mean.fill_(4.0)
        student.num_batches_tracked.fill_(7)
    ema_update(teacher, student, momentum=0.75)
    assert torch.allclose(teacher.running_mean, torch.full((2,), 1.0))  # 0.75 * 0 + 0.25 * 4
    assert int(teacher.num_batches_tracked) == 7

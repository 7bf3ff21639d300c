"""classicseg.verify: the lessons' checks fail with a sentence, as an AssertionError."""

import math

import pytest

from classicseg.verify import LessonCheckError, verify, verify_between, verify_close, verify_greater


def test_checks_pass_silently_and_fail_with_the_claim():
    verify(True, "x")
    assert verify_between(0.5, 0, 1, "v") == 0.5
    verify_greater(2, 1, "a", "b", by=0.5)
    verify_close(1.01, 1.0, "v", tol=0.02)
    with pytest.raises(AssertionError, match="beats"):
        verify_greater(1, 1, "a", "b")
    with pytest.raises(LessonCheckError, match=r"the speed-up lies in \[2, 3\], but it is 5"):
        verify_between(5, 2, 3, "the speed-up")
    with pytest.raises(LessonCheckError, match="Restart and Run All"):
        verify(False, "every box is inside the image")
    with pytest.raises(LessonCheckError):
        verify_between(math.nan, 0, 1, "a Dice")
    with pytest.raises(LessonCheckError, match="± 0.01"):
        verify_close(1.1, 1.0, "v", tol=0.01)

"""Fidelity evaluation (an optional extra): how much the simulated replies sound like the real person."""

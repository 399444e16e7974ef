"""Simulated vLLM server: a virtual-time scheduler model behind vLLM's OpenAI API."""

from llmload.sim.app import serve_sim, start_sim_server
from llmload.sim.predict import PredictedStep, predict_closed_loop
from llmload.sim.profile import SimProfile, list_profiles, load_profile

__all__ = ["PredictedStep", "SimProfile", "list_profiles", "load_profile", "predict_closed_loop", "serve_sim",
           "start_sim_server"]

//! The seam between the machine and whatever executes guest code (interpreter or JIT).

use crate::cpu::core::Cpu;
use crate::interp::StopReason;

pub trait ExecutionEngine {
    fn name(&self) -> &'static str;
    /// Runs `cpu` for at most about `budget` guest instructions.
    fn run(&mut self, cpu: &mut Cpu, budget: u64) -> StopReason;
    /// One line of engine counters for `--stats` (empty when there is nothing to add).
    fn stats(&self) -> String {
        String::new()
    }
}

/// The interpreter as an engine.
#[derive(Default)]
pub struct Interpreter;

impl ExecutionEngine for Interpreter {
    fn name(&self) -> &'static str {
        "interp"
    }
    fn run(&mut self, cpu: &mut Cpu, budget: u64) -> StopReason {
        cpu.run(budget)
    }
}

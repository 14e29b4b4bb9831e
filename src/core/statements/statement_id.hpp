// The identity of every statement the product sends, apart from the label an
// operator reads (Query::name): a label may be reworded, or carry a value
// ("create slot spk_..."), without changing which statement it is. The fake
// cluster of the unit tests dispatches on this id in a switch that the
// compiler checks covers them all.
//
// One list: the enum and the names (for messages about an id) come from it.
#pragma once

#include <cstdint>

namespace zodan {

#define ZODAN_STATEMENTS(X)                                                                                          \
    /* spock_sql.cpp: reading a node */                                                                              \
    X(SpockVersion) X(LocalIdentity) X(LocalNodeName) X(NodesWithDsn) X(NodeExists) X(NodeIdTaken)                    \
    X(DisabledSubscriptions) X(UserTables) X(LoginRoles) X(Roles) X(SubscriptionCount) X(ReplicationSetCount)        \
    X(LocalSets) X(LocalSetTables) X(LocalSetSequences) X(SchemasToSkip) X(NodeCapacity) X(NodeIdentity)              \
    X(ClusterNodes) X(TableShapes)                                                                                   \
    /* spock_sql.cpp: reads merged into one round trip (docs/protocol.md, "Round trips") */                          \
    X(SourceView) X(MemberView) X(PreconditionReads) X(LocalSetsAll) X(LocalSetsAndSlot) X(MeshView) X(SubCreateIfAbsent)  \
    X(SubCreateThenEnable) X(ProgressAndStatus)                                                               \
    /* spock_sql.cpp: nodes, slots, origins */                                                                       \
    X(NodeCreate) X(NodeDrop) X(SlotName) X(CreateSlot) X(CreateSlotThenSyncEvent) X(SlotExists) X(AdvanceSlot) X(SlotsNamed)                   \
    X(TerminateSlotUser) X(DropSlot) X(SpockSlots) X(DropOriginIfExists) X(AdvanceOrigin) X(AdvanceOrigins)          \
    X(UnusedOriginsAmong) X(DropOrigin)                                                                              \
    /* spock_sql.cpp: replication and subscriptions */                                                               \
    X(SyncEvent) X(AppliedThrough) X(SubscriptionStatus) X(EndLostApplyWorkers)                     \
    X(ApplyRestartDelay) X(SubCreate) X(SubCreateDisabled) X(EnableDisabled) X(SubDrop) X(SubDisable)   \
    X(SubscriptionWorkers) X(TerminateSubscriptionWorkers) X(ApplyWorkers)                                            \
    X(SubscriptionSlots) X(SubscriptionsInvolving) X(LagFrom)                                                        \
    /* spock_sql.cpp: replication sets */                                                                            \
    X(RepsetCreate) X(RepsetAlter) X(RepsetDrop) X(RepsetAddTable) X(RepsetRemoveTable) X(RepsetAddSeq)              \
    X(RepsetRemoveSeq) X(RelationsMissing)                                                                           \
    /* spock_sql.cpp: rolling back a copy (cleanup.cpp, remove_node.cpp) */                                          \
    X(UserObjects) X(CopyRollbackPlan) X(CopiedTablesLock) X(LockCopiedTables) X(BeginRollback)                      \
    X(DdlReplicationOff) X(DropInSavepoint) X(UndoDrop) X(CommitRollback) X(AbandonRollback)                         \
    X(TablesWrittenLocally) X(LocalWrites)                                                                           \
    /* spock_sql.cpp: the copy point and the copy */                                                                 \
    X(PauseApplyWorkers) X(ResumeApplyWorkers) X(TransactionsHoldingXids)                                             \
    X(CreateSlotExportingSnapshot) X(BeginInSnapshot) X(Rollback) X(Commit) X(CopyJobList) X(ServerMajor)            \
    X(DatabaseEncoding) X(SequenceValues) X(SetSequence) X(CreateOrigin) X(SetupOriginSession) X(MarkCopiedRows)     \
    X(ReplicaRole) X(BeginCopyTarget) X(ResetOriginSession) X(CopyOrigins) X(DatabaseOid) X(RestoreSettings)         \
    X(CopyOut) X(CopyIn) X(CreateDumpFunction) X(DumpStructure)                                                    \
    /* spock_sql.cpp: the join window */                                                                             \
    X(WindowMarkTime) X(WindowTables) X(WindowRows) X(RestampSession) X(Restamp)                       \
    /* spock_sql.cpp, verify_data.cpp: the comparison */                                                             \
    X(VerifyTables) X(VerifyStatements) X(VerifySums) X(VerifySumsMerged) X(VerifyRows) X(VerifyChunkBounds)                             \
    /* join_lock.cpp */                                                                                              \
    X(JoinLockTake) X(JoinLockRelease) X(JoinLockHolder)                                                             \
    /* cluster/large_objects.cpp */                                                                                  \
    X(LargeObjects) X(LolorHasRows)                                                                                  \
    /* journal.cpp */                                                                                                \
    X(JournalExists) X(JournalRead) X(JournalReadRecord) X(JournalRunState) X(JournalBegin) X(JournalTakeOver)       \
    X(JournalStepStart) X(JournalStepDone) X(JournalStepNote) X(JournalStepFailed) X(JournalFinish)                  \
    /* checks.cpp, waits/wal_retention.cpp: the checks a long join needs */                                          \
    X(IdentifySystem) X(WalRetention) X(JoinSlotsWal) X(IndexCount) X(IndexBuilds)                                                            \
    /* add_node.cpp: zodan.pause_at_step (tests only) */                                                             \
    X(PauseHere) X(PauseEnd)                                                                                         \
    /* physical/physical_sql.cpp: the add from a standby */                                                          \
    X(PhysicalInstanceIdentity) X(PhysicalZodanVersion) X(PhysicalWalReceiver) X(PhysicalSynchronousStandby)         \
    X(PhysicalFilteredTables) X(PhysicalWriteProbe) X(PhysicalProbeSeen) X(PhysicalDropProbe) X(PhysicalBegin)       \
    X(PhysicalCommit) X(PhysicalRollback) X(PhysicalDisableInbound) X(PhysicalRecordFence)                           \
    X(PhysicalEndWalsender) X(PhysicalClearStatsSnapshot) X(PhysicalFencedSlots) X(PhysicalApplyWorkersRunning)      \
    X(PhysicalEndApplyWorkers) X(PhysicalEnableFenced) X(PhysicalForgetFence) X(PhysicalJournalHere)                 \
    X(PhysicalReplayed) X(PhysicalPromote) X(PhysicalLocalNode) X(PhysicalDropJournalRows)                           \
    X(PhysicalDropLogicalSlots) X(PhysicalDropSpockOrigins) X(PhysicalStripSpockCatalog)                             \
    X(PhysicalResetStandbySetting) X(PhysicalReloadConfiguration) X(PhysicalDropPhysicalSlot)                        \
    /* physical/window_sql.cpp: from the fence to the run's journal on N */                                       \
    X(PhysicalAmendFence) X(PhysicalRequestPromotion) X(PhysicalReplayEnd) X(PhysicalReplayedFence)                 \
    X(PhysicalEnabledInbound) X(PhysicalDeadFences) X(PhysicalDropOtherRuns)                                         \
    X(PhysicalDirectStandby) X(PhysicalReplayState) X(PhysicalOtherSpockDatabases)                                 \
    /* pg/libpq_connection.cpp: every session's set-up */                                                            \
    X(SessionSetUp)

enum class Stmt : uint16_t {
#define ZODAN_STMT_ENUM(id) id,
    ZODAN_STATEMENTS(ZODAN_STMT_ENUM)
#undef ZODAN_STMT_ENUM
};

// "CreateSlot" for Stmt::CreateSlot: for messages about the id itself.
inline const char *stmt_name(Stmt id) {
    static const char *const names[] = {
#define ZODAN_STMT_NAME(id) #id,
        ZODAN_STATEMENTS(ZODAN_STMT_NAME)
#undef ZODAN_STMT_NAME
    };
    const auto i = static_cast<uint16_t>(id);
    return i < sizeof(names) / sizeof(names[0]) ? names[i] : "(unknown statement)";
}

}  // namespace zodan

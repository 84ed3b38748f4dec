// Every migration, in order. Listed explicitly (no glob) so the same list works from src via tsx and
// from dist after tsc.
import { Initial1795477268022 } from "./1795477268022-Initial.js";
import { DeliveriesFillfactor1795478000000 } from "./1795478000000-DeliveriesFillfactor.js";
import { Unsubscribes1795478538404 } from "./1795478538404-Unsubscribes.js";
import { ReportRollup1795478922022 } from "./1795478922022-ReportRollup.js";
import { ClickIndex1795479808852 } from "./1795479808852-ClickIndex.js";
import { BoundedIndexes1796287828063 } from "./1796287828063-BoundedIndexes.js";
import { EventPersonKey1796288232807 } from "./1796288232807-EventPersonKey.js";
import { OutboxOrdering1796289306758 } from "./1796289306758-OutboxOrdering.js";
import { PartitionedEvents1796289943592 } from "./1796289943592-PartitionedEvents.js";
import { RetentionErasure1796290534757 } from "./1796290534757-RetentionErasure.js";
import { FailureKinds1796300000000 } from "./1796300000000-FailureKinds.js";
import { PipelinesWriteKeys1796300100000 } from "./1796300100000-PipelinesWriteKeys.js";
import { AppApiBackfill1796300200000 } from "./1796300200000-AppApiBackfill.js";
import { ProjectionQueue1796300300000 } from "./1796300300000-ProjectionQueue.js";
import { OutboxOpenKindIndex1796300400000 } from "./1796300400000-OutboxOpenKindIndex.js";

export const migrations = [Initial1795477268022, DeliveriesFillfactor1795478000000, Unsubscribes1795478538404, ReportRollup1795478922022, ClickIndex1795479808852, BoundedIndexes1796287828063, EventPersonKey1796288232807, OutboxOrdering1796289306758, PartitionedEvents1796289943592, RetentionErasure1796290534757, FailureKinds1796300000000, PipelinesWriteKeys1796300100000, AppApiBackfill1796300200000, ProjectionQueue1796300300000, OutboxOpenKindIndex1796300400000];

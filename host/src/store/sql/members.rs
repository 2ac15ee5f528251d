//! [`MemberStore`] on SQL: the members' rows, the take-over of a dead node (guarded by
//! a conditional update of its row, so exactly one survivor acts) and the executions
//! handed from node to node.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::{ColumnIndex, Encode, Executor, IntoArguments, QueryBuilder, Type};

use super::rows::{self, EXECUTION_COLUMNS};
use super::{Column, Dialect, RowsAffected, SqlStore};
use crate::store::{
    DeadRule, ExecutionRecord, HandedExecution, Member, MemberStore, NodeNameGuard, StoreError,
    TakenOver, to_millis,
};

#[async_trait::async_trait]
impl<DB: Dialect> MemberStore for SqlStore<DB>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'r> &'r str: ColumnIndex<DB::Row>,
    usize: ColumnIndex<DB::Row>,
    i64: Column<DB>,
    i32: Column<DB>,
    bool: Column<DB>,
    String: Column<DB>,
    Vec<u8>: Column<DB>,
    Option<i64>: Column<DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> &'q [u8]: Encode<'q, DB> + Type<DB>,
{
    async fn join(&self, member: &Member) -> Result<(), StoreError> {
        let tags =
            serde_json::to_string(&member.tags).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        sqlx::query(
            "INSERT INTO members (name, address, tags, started_at, heartbeat_at, taken_over) \
             VALUES ($1, $2, $3, $4, $5, FALSE) ON CONFLICT (name) DO UPDATE SET \
             address = excluded.address, tags = excluded.tags, started_at = excluded.started_at, \
             heartbeat_at = excluded.heartbeat_at, taken_over = FALSE",
        )
        .bind(&member.name)
        .bind(&member.address)
        .bind(tags)
        .bind(to_millis(member.started_at))
        .bind(to_millis(member.heartbeat_at))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn heartbeat(&self, name: &str, at: DateTime<Utc>) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE members SET heartbeat_at = $2 WHERE name = $1")
            .bind(name)
            .bind(to_millis(at))
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn forget_members(&self, dead_before: DateTime<Utc>) -> Result<Vec<String>, StoreError> {
        let names: Vec<(String,)> = sqlx::query_as(
            "DELETE FROM members WHERE taken_over AND heartbeat_at < $1 RETURNING name",
        )
        .bind(to_millis(dead_before))
        .fetch_all(&self.pool)
        .await?;
        Ok(names.into_iter().map(|(name,)| name).collect())
    }

    async fn list_members(&self) -> Result<Vec<Member>, StoreError> {
        let rows: Vec<rows::MemberRow> = sqlx::query_as(
            "SELECT name, address, tags, started_at, heartbeat_at FROM members ORDER BY name",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(rows::member).collect())
    }

    async fn take_over(
        &self,
        from: &str,
        dead: Option<DeadRule>,
        reason: &str,
        to: &str,
    ) -> Result<Option<TakenOver>, StoreError> {
        let mut tx = DB::begin_write(&self.pool).await?;
        if let Some(dead) = dead {
            let won = sqlx::query(&format!(
                "UPDATE members SET taken_over = TRUE WHERE name = $1 AND taken_over = FALSE \
                 AND (heartbeat_at < $2 OR (heartbeat_at < $3 AND {}))",
                DB::PROCESS_GONE
            ))
            .bind(from)
            .bind(to_millis(dead.heartbeat_before))
            .bind(to_millis(dead.gone_before))
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if won == 0 {
                return Ok(None);
            }
        }
        let running = Self::open_executions(&mut tx, from, "('running')").await?;
        let closed = Self::close_in(&mut tx, running, reason).await?;
        let handed = sqlx::query(
            "UPDATE executions SET node = $2, handed_over = TRUE \
             WHERE node = $1 AND state = 'scheduled'",
        )
        .bind(from)
        .bind(to)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(Some(TakenOver { closed, handed }))
    }

    async fn pick_handed(&self, node: &str) -> Result<Vec<HandedExecution>, StoreError> {
        let mut tx = DB::begin_write(&self.pool).await?;
        let rows = sqlx::query(&format!(
            "UPDATE executions SET handed_over = FALSE \
             WHERE node = $1 AND handed_over AND state = 'scheduled' \
             RETURNING {EXECUTION_COLUMNS}, job_id"
        ))
        .bind(node)
        .fetch_all(&mut *tx)
        .await?;
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let mut picked = Vec::with_capacity(rows.len());
        for row in &rows {
            use sqlx::Row;
            let record: ExecutionRecord =
                <rows::ExecutionRow as sqlx::FromRow<_>>::from_row(row)?.into();
            picked.push((row.try_get::<i64, _>("job_id")?, record));
        }
        let mut job_ids: Vec<i64> = picked.iter().map(|(id, _)| *id).collect();
        job_ids.sort_unstable();
        job_ids.dedup();
        let mut specs = HashMap::new();
        for chunk in job_ids.chunks(rows::BULK_ROWS) {
            let mut select = QueryBuilder::<DB>::new(format!(
                "SELECT {} FROM jobs WHERE id IN (",
                rows::SPEC_COLUMNS
            ));
            let mut ids = select.separated(", ");
            for id in chunk {
                ids.push_bind(*id);
            }
            select.push(")");
            let rows: Vec<(i64, i64, String, bool)> =
                DB::build_as(&mut select).fetch_all(&mut *tx).await?;
            for (id, tenant, spec, has_dependents) in rows {
                specs.insert(id, (tenant, spec, has_dependents));
            }
        }
        tx.commit().await?;
        let mut handed = Vec::with_capacity(picked.len());
        for (job_id, record) in picked {
            // A job deleted meanwhile took its executions with it.
            let Some((tenant, spec, has_dependents)) = specs.get(&job_id) else {
                continue;
            };
            handed.push(HandedExecution {
                tenant: *tenant,
                record,
                job_id,
                spec: serde_json::from_str(spec)
                    .map_err(|e| StoreError::Corrupt(format!("job {job_id}: {e}")))?,
                has_dependents: *has_dependents,
            });
        }
        Ok(handed)
    }

    async fn hand_to(&self, execution_id: i64, node: &str) -> Result<bool, StoreError> {
        let mut tx = DB::begin_write(&self.pool).await?;
        // Held until the end: a take-over of `node` waits, or has already won.
        let member: Option<(String,)> = sqlx::query_as(&format!(
            "SELECT name FROM members WHERE name = $1 AND taken_over = FALSE{}",
            DB::SHARE_LOCK
        ))
        .bind(node)
        .fetch_optional(&mut *tx)
        .await?;
        if member.is_none() {
            return Ok(false);
        }
        sqlx::query(
            "UPDATE executions SET node = $2, handed_over = TRUE \
             WHERE id = $1 AND state = 'scheduled'",
        )
        .bind(execution_id)
        .bind(node)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn hold_node_name(&self, name: &str) -> Result<NodeNameGuard, StoreError> {
        DB::hold_name(&self.pool, name).await
    }
}

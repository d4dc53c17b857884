//! `GET /api/v1/servers/{server_id}/metrics/export` (v1 US0048); built by [`crate::service::export`].

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use crate::auth::AdminAuth;
use crate::error::{ApiResult, ErrorBody, ValidationBody};
use crate::extract::{ApiPath, ApiQuery};
use crate::service::export::{self, ExportFile, ExportParams};
use crate::state::AppState;

impl IntoResponse for ExportFile {
    fn into_response(self) -> Response {
        let disposition = format!("attachment; filename=\"{}\"", self.filename);
        ([(header::CONTENT_TYPE, self.content_type.to_owned()), (header::CONTENT_DISPOSITION, disposition)], self.body)
            .into_response()
    }
}

/// The shown range of CPU, memory and disk history as a CSV or JSON download.
#[utoipa::path(get, path = "/api/v1/servers/{server_id}/metrics/export", tag = "metrics", security(("api_key" = [])),
    params(("server_id" = String, Path, description = "Server id"), ExportParams),
    responses(
        (status = 200, description = "CSV (`text/csv`) or JSON attachment"),
        (status = 404, body = ErrorBody),
        (status = 422, body = ValidationBody),
    ))]
pub async fn export(
    _: AdminAuth,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(params): ApiQuery<ExportParams>,
) -> ApiResult<ExportFile> {
    Ok(export::build(&state, &id, params.range.as_deref(), params.format.as_deref()).await?)
}
